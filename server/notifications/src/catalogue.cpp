// The event catalogue and its texts.
#include "pvfleet/notifications/catalogue.hpp"

#include <algorithm>
#include <array>

namespace pvfleet::notifications {
namespace {

constexpr Channels kInbox{true, false};
constexpr Channels kInboxAndEmail{true, true};

// Reminders and escalations reach people who are away from the web app: inbox and e-mail. Everything else is
// the inbox only (a user turns e-mail on per event).
constexpr std::array kCatalogue{
    CatalogueEvent{"lead.created", kInbox},
    CatalogueEvent{"lead.assigned", kInboxAndEmail},
    CatalogueEvent{"project.stage_changed", kInbox},
    CatalogueEvent{"milestone.overdue", kInboxAndEmail},
    CatalogueEvent{"milestone.escalated", kInboxAndEmail},
    CatalogueEvent{"payment.overdue", kInboxAndEmail},
    CatalogueEvent{"payment.escalated", kInboxAndEmail},
    CatalogueEvent{"work_order.created", kInbox},
    CatalogueEvent{"work_order.assigned", kInboxAndEmail},
    CatalogueEvent{"work_order.closed", kInbox},
    CatalogueEvent{"site.offline", kInboxAndEmail},
    CatalogueEvent{"site.first_production", kInbox},
};

struct Texts {
    std::string_view subject, body;
};
struct Template {
    std::string_view event;
    Texts en, zh;
    std::string_view link;  // rendered only when every field it names is in the data
};

// "{field}" is replaced by the event's data field of that name (missing: empty).
constexpr std::array kTemplates{
    Template{"lead.created",
             {"New lead #{lead_id} ({source}, {region})",
              "A new lead was captured: #{lead_id}, source {source}, region {region}, score {score}."},
             {"新线索 #{lead_id}（{source}，{region}）",
              "收到一条新线索：#{lead_id}，来源 {source}，地区 {region}，评分 {score}。"},
             "#/leads/{lead_id}"},
    Template{"lead.assigned",
             {"Lead #{lead_id} assigned to you",
              "Lead #{lead_id} (region {region}, source {source}) is now yours."},
             {"线索 #{lead_id} 已分配给您", "线索 #{lead_id}（地区 {region}，来源 {source}）现由您负责。"},
             "#/leads/{lead_id}"},
    Template{
        "project.stage_changed",
        {"{project}: now in stage {stage}", "Project {project} moved from stage {from_stage} to {stage}."},
        {"{project}：进入阶段 {stage}", "项目 {project} 已从阶段 {from_stage} 进入 {stage}。"},
        "#/projects/{project_id}"},
    Template{"milestone.overdue",
             {"Overdue: {milestone} — {project}",
              "{milestone} of project {project} is not done {days} days after {after} (rule {rule})."},
             {"逾期：{milestone} — {project}",
              "项目 {project} 的 {milestone} 在 {after} 后 {days} 天仍未完成（规则 {rule}）。"},
             "#/projects/{project_id}"},
    Template{
        "milestone.escalated",
        {"Escalated: {milestone} — {project}",
         "{milestone} of project {project} is still not done {days} days after {after} (rule {rule}); "
         "owner {owner}."},
        {"升级：{milestone} — {project}",
         "项目 {project} 的 {milestone} 在 {after} 后 {days} 天仍未完成（规则 {rule}）；负责人 {owner}。"},
        "#/projects/{project_id}"},
    Template{
        "payment.overdue",
        {"Payment overdue: {instalment} — {project}",
         "{instalment} of contract {contract} (project {project}) was due on {due_on}: {open_amount} of "
         "{amount} {currency} still open, {days} days later."},
        {"款项逾期：{instalment} — {project}",
         "合同 {contract}（项目 {project}）的 {instalment} 应于 {due_on} 支付：{amount} {currency} 中仍有 "
         "{open_amount} 未付，已过 {days} 天。"},
        "#/projects/{project_id}"},
    Template{
        "payment.escalated",
        {"Payment escalated: {instalment} — {project}",
         "{instalment} of contract {contract} (project {project}) was due on {due_on}: {open_amount} of "
         "{amount} {currency} still open, {days} days later; owner {owner}."},
        {"款项逾期升级：{instalment} — {project}",
         "合同 {contract}（项目 {project}）的 {instalment} 应于 {due_on} 支付：{amount} {currency} 中仍有 "
         "{open_amount} 未付，已过 {days} 天；负责人 {owner}。"},
        "#/projects/{project_id}"},
    Template{"work_order.created",
             {"New work order #{work_order_id}: {summary}",
              "Work order #{work_order_id} ({kind}, priority {priority}) was opened for site {site_id}: "
              "{summary}."},
             {"新工单 #{work_order_id}：{summary}",
              "站点 {site_id} 新建了工单 #{work_order_id}（{kind}，优先级 {priority}）：{summary}。"},
             "#/work-orders/{work_order_id}"},
    Template{"work_order.assigned",
             {"Work order #{work_order_id} assigned to you",
              "Work order #{work_order_id} at site {site_id} (priority {priority}) is assigned to you: "
              "{summary}."},
             {"工单 #{work_order_id} 已分配给您",
              "站点 {site_id} 的工单 #{work_order_id}（优先级 {priority}）已分配给您：{summary}。"},
             "#/work-orders/{work_order_id}"},
    Template{"work_order.closed",
             {"Work order #{work_order_id} {state}",
              "Work order #{work_order_id} at site {site_id} is {state}: {summary}."},
             {"工单 #{work_order_id} 已关闭（{state}）",
              "站点 {site_id} 的工单 #{work_order_id} 状态为 {state}：{summary}。"},
             "#/work-orders/{work_order_id}"},
    Template{"site.offline",
             {"Site {site_id} is offline", "The gateway of site {site_id} went offline at {since}."},
             {"站点 {site_id} 已离线", "站点 {site_id} 的网关于 {since} 离线。"},
             "#/projects/{project_id}"},
    Template{"site.first_production",
             {"First production: {project_name} — handed over to O&M",
              "Site {site_id} of project {project_name} reported its first production ({power_w} W at "
              "{first_production_at}): commissioning is done as of {commissioned_on}, the project is in stage "
              "{stage}."},
             {"首次发电：{project_name}——已移交运维",
              "项目 {project_name} 的站点 {site_id} 报告了首次发电（{first_production_at}，{power_w} W）："
              "调试已于 {commissioned_on} 完成，项目现处于阶段 {stage}。"},
             "#/projects/{project_id}"},
};

constexpr std::size_t kMaxValueChars = 200;

// A data field as one line of text: control characters become spaces, cut at a UTF-8 boundary.
std::string field_text(const nlohmann::json& data, std::string_view key, bool& present) {
    present = false;
    if (!data.is_object()) return {};
    auto it = data.find(std::string(key));
    if (it == data.end() || it->is_null()) return {};
    present = true;
    std::string text = it->is_string() ? it->get<std::string>() : it->dump();
    for (char& c : text)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    if (text.size() > kMaxValueChars) {
        std::size_t cut = kMaxValueChars;
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
        text.resize(cut);
        text += "…";
    }
    return text;
}

// Fills "{field}" placeholders; `complete` tells whether every field named was present.
std::string fill(std::string_view pattern, const nlohmann::json& data, bool* complete = nullptr) {
    std::string out;
    if (complete) *complete = true;
    for (std::size_t i = 0; i < pattern.size();) {
        const auto open = pattern.find('{', i);
        const auto close = open == std::string_view::npos ? open : pattern.find('}', open);
        if (close == std::string_view::npos) {
            out.append(pattern.substr(i));
            break;
        }
        out.append(pattern.substr(i, open - i));
        bool present = false;
        out += field_text(data, pattern.substr(open + 1, close - open - 1), present);
        if (!present && complete) *complete = false;
        i = close + 1;
    }
    return out;
}

}  // namespace

std::string_view to_string(Language language) {
    return language == Language::zh_cn ? "zh-CN" : "en";
}

std::optional<Language> parse_language(std::string_view text) {
    if (text == "en") return Language::en;
    if (text == "zh-CN") return Language::zh_cn;
    return std::nullopt;
}

std::span<const CatalogueEvent> event_catalogue() {
    return kCatalogue;
}

const CatalogueEvent* find_catalogue_event(std::string_view name) {
    auto it =
        std::find_if(kCatalogue.begin(), kCatalogue.end(), [&](const auto& e) { return e.name == name; });
    return it == kCatalogue.end() ? nullptr : &*it;
}

Rendered render_event(const storage::Event& event, Language language, std::string_view public_url) {
    Rendered out;
    auto it = std::find_if(kTemplates.begin(), kTemplates.end(),
                           [&](const auto& t) { return t.event == event.name; });
    if (it == kTemplates.end()) {
        out.subject = fill("{name}", nlohmann::json{{"name", event.name}});
        out.body = event.data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        return out;
    }
    const Texts& texts = language == Language::zh_cn ? it->zh : it->en;
    out.subject = fill(texts.subject, event.data);
    out.body = fill(texts.body, event.data);
    bool complete = false;
    std::string link = fill(it->link, event.data, &complete);
    if (complete) out.link = std::move(link);
    if (!out.link.empty() && !public_url.empty()) {
        std::string base(public_url);
        while (!base.empty() && base.back() == '/') base.pop_back();
        out.body += "\n\n" + base + "/" + out.link;
    }
    return out;
}

}  // namespace pvfleet::notifications
