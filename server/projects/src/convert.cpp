// The conversion of a lead into a customer, optionally a site, and a project, in one transaction.
#include "pvfleet/leads/repository.hpp"
#include "pvfleet/projects/repository.hpp"
#include "pvfleet/records/customers.hpp"

namespace pvfleet::projects {

Result<Converted> convert_lead(storage::Db& db, const records::FieldCipher& cipher, const ProjectSettings& settings,
                               const leads::Settings& lead_settings, const Conversion& c, const std::string& actor,
                               TimePoint now) {
    return storage::in_transaction(db, [&]() -> Result<Converted> {
        // PostgreSQL: a second conversion of the lead waits here and then finds it converted (SQLite's write lock
        // does the same; the unique index on projects.lead_id stays the guarantee).
        if (db.engine() == storage::Engine::postgres)
            if (auto l = db.run("SELECT id FROM leads WHERE id = $1 FOR UPDATE", {c.lead_id}); !l) return l.error();
        auto loaded = leads::get_lead(db, cipher, c.lead_id);
        if (!loaded) return loaded.error();
        if (!*loaded || (c.only_assignee && (*loaded)->assignee != c.only_assignee))
            return Error{"no lead " + std::to_string(c.lead_id) + (c.only_assignee ? " of yours" : ""),
                         ErrorKind::not_found};
        const leads::Lead& lead = **loaded;
        if (lead.status == leads::LeadStatus::converted)
            return Error{"lead " + std::to_string(lead.id) + " is converted already (customer " +
                             std::to_string(lead.customer_id.value_or(0)) + ")",
                         ErrorKind::conflict};
        records::Customer customer;
        customer.name = lead.name;
        customer.phone = lead.phone;
        customer.email = lead.email;
        customer.address = lead.address;
        customer.notes = lead.notes;
        auto created = records::create_customer_in_transaction(db, cipher, customer, actor, now);
        if (!created) return created.error().under("customer");
        Converted out;
        out.customer_id = created->id;
        if (c.site) {
            records::Site site = *c.site;
            site.customer_id = created->id;
            if (site.roof_type.empty() && lead.roof_type != leads::RoofType::unknown)
                site.roof_type = std::string(enum_name(leads::kRoofNames, lead.roof_type));
            auto s = records::create_site_in_transaction(db, site, actor, now);
            if (!s) return s.error().under("site");
            out.site_id = s->site_id;
        }
        NewProject n;
        n.name = c.project_name.empty() ? lead.name : c.project_name;
        n.customer_id = created->id;
        n.site_id = out.site_id;
        n.lead_id = lead.id;
        n.manager = c.manager;
        n.sales_rep = lead.assignee;
        n.region = lead.region;
        n.template_name = c.template_name;
        n.started_on = c.started_on;
        n.first_stage_done_on = date_of(lead.first_touch_at.value_or(now));
        auto project = create_project_in_transaction(db, settings, n, actor, now);
        if (!project) return project.error();
        out.project = *project;
        if (auto m = leads::mark_converted_in_transaction(db, cipher, lead.id, created->id, actor, now); !m)
            return m.error();
        // The new customer's de-duplication keys at once: a repeat inquiry finds the customer, whatever path.
        if (auto k = leads::refresh_customer_keys(db, cipher, lead_settings.default_country_code); !k)
            return k.error();
        return out;
    });
}

}  // namespace pvfleet::projects
