#include "pvfleet/records/customers.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "internal.hpp"
#include "pvfleet/records/field_checks.hpp"
#include "pvfleet/storage/work_orders.hpp"

namespace pvfleet::records {
namespace {

using storage::Params;
using storage::Row;

constexpr const char* kCustomerColumns =
    "id, name_enc, phone_enc, email_enc, address_enc, notes_enc, created_at_ms, updated_at_ms, version";
constexpr int kMaxCustomersPerPage = 1000;
constexpr int kScanPage = 500;

struct EncryptedFields {
    std::string name, phone, email, address, notes;
};

EncryptedFields stored_fields(const Row& row) {
    return EncryptedFields{row.text(1), row.text(2), row.text(3), row.text(4), row.text(5)};
}

EncryptedFields encrypt_fields(const FieldCipher& cipher, const Customer& c) {
    return EncryptedFields{cipher.encrypt(c.name), cipher.encrypt(c.phone), cipher.encrypt(c.email),
                           cipher.encrypt(c.address), cipher.encrypt(c.notes)};
}

// The audit log keeps the ciphertext as stored: who can read the log still needs the key to read a name.
std::string audit_json(std::int64_t id, const EncryptedFields& f, std::int64_t version,
                       const std::vector<std::string>& changed = {}) {
    nlohmann::json j{{"id", id},
                     {"name_enc", f.name},
                     {"phone_enc", f.phone},
                     {"email_enc", f.email},
                     {"address_enc", f.address},
                     {"notes_enc", f.notes},
                     {"version", version}};
    if (!changed.empty()) j["changed"] = changed;
    return j.dump();
}

Result<Customer> decrypt_row(const FieldCipher& cipher, const Row& row) {
    Customer c;
    c.id = row.integer(0);
    const std::pair<const char*, std::string*> fields[] = {{"name", &c.name},
                                                           {"phone", &c.phone},
                                                           {"email", &c.email},
                                                           {"address", &c.address},
                                                           {"notes", &c.notes}};
    for (std::size_t i = 0; i < std::size(fields); ++i) {
        auto plain = cipher.decrypt(row.text(i + 1));
        if (!plain)
            return Error{"customer " + std::to_string(c.id) + "/" + fields[i].first + ": cannot decrypt (" +
                             plain.error().message + "; is this the database's key file?)",
                         ErrorKind::io};
        *fields[i].second = std::move(*plain);
    }
    c.created_at = from_epoch_ms(row.integer(6));
    c.updated_at = from_epoch_ms(row.integer(7));
    c.version = row.integer(8);
    return c;
}

void normalize(Customer& c) {
    c.name = detail::trim(c.name);
    c.phone = detail::trim(c.phone);
    c.email = detail::trim(c.email);
    c.address = detail::trim(c.address);
    c.notes = detail::trim(c.notes);
}

std::string digits_of(std::string_view text) {
    std::string out;
    for (const char ch : text)
        if (ch >= '0' && ch <= '9') out += ch;
    return out;
}

bool matches(const Customer& c, const std::string& folded_query, const std::string& query_digits,
             bool phone_like) {
    for (const std::string* field : {&c.name, &c.email, &c.phone, &c.address})
        if (detail::fold_case(*field).find(folded_query) != std::string::npos) return true;
    // "0171 2345" finds "+49 171 23456": compare phone numbers by their digits.
    return phone_like && !query_digits.empty() && digits_of(c.phone).find(query_digits) != std::string::npos;
}

}  // namespace

std::vector<Error> validate_customer(const Customer& c) {
    std::vector<Error> errors;
    auto add = [&](const char* field, const detail::Problem& p) {
        if (p) errors.push_back(Error::at(field, *p));
    };
    add("name", detail::check_customer_name(c.name));
    add("phone", detail::check_phone(detail::trim(c.phone)));
    add("email", detail::check_email(detail::trim(c.email)));
    add("address", detail::check_text(c.address, 500));
    add("notes", detail::check_text(c.notes, 10'000));
    return errors;
}

namespace detail {

Result<Customer> insert_customer(storage::Db& db, const FieldCipher& cipher, Customer c,
                                 const std::string& actor, const std::string& action, TimePoint now) {
    const auto enc = encrypt_fields(cipher, c);
    auto r = db.run(
        "INSERT INTO customers (name_enc, phone_enc, email_enc, address_enc, notes_enc, created_at_ms, "
        "updated_at_ms, version) VALUES ($1, $2, $3, $4, $5, $6, $6, 1) RETURNING id",
        {enc.name, enc.phone, enc.email, enc.address, enc.notes, std::int64_t{to_epoch_ms(now)}});
    if (!r) return r.error();
    c.id = r->rows.at(0).integer(0);
    c.created_at = now;
    c.updated_at = now;
    c.version = 1;
    if (auto s = storage::append_audit(db, now, actor, action, "customer", std::to_string(c.id), std::nullopt,
                                       audit_json(c.id, enc, c.version));
        !s)
        return s.error();
    return c;
}

Result<std::vector<Customer>> all_customers(storage::Db& db, const FieldCipher& cipher) {
    auto r = db.run(std::string("SELECT ") + kCustomerColumns + " FROM customers ORDER BY id");
    if (!r) return r.error();
    std::vector<Customer> out;
    out.reserve(r->rows.size());
    for (const Row& row : r->rows) {
        auto c = decrypt_row(cipher, row);
        if (!c) return c.error();
        out.push_back(std::move(*c));
    }
    return out;
}

}  // namespace detail

Result<std::vector<Customer>> list_customers(storage::Db& db, const FieldCipher& cipher,
                                             const CustomerQuery& query) {
    if (query.limit < 1 || query.limit > kMaxCustomersPerPage)
        return Error::at("limit", "must be between 1 and " + std::to_string(kMaxCustomersPerPage));
    const std::string folded = detail::fold_case(detail::trim(query.text));
    const std::string query_digits = digits_of(folded);
    const bool phone_like = !query_digits.empty() && !detail::check_phone(folded).has_value();
    std::vector<Customer> out;
    std::int64_t after = query.after_id;
    // The fields are ciphertext, so SQL cannot filter: read pages in id order until the page is full.
    const int page = folded.empty() ? query.limit : kScanPage;
    // Decrypts and filters one page of rows; true when the answer is full.
    auto take = [&](const storage::QueryResult& rows) -> Result<bool> {
        for (const Row& row : rows.rows) {
            auto c = decrypt_row(cipher, row);
            if (!c) return c.error();
            after = c->id;
            if (folded.empty() || matches(*c, folded, query_digits, phone_like)) out.push_back(std::move(*c));
            if (static_cast<int>(out.size()) == query.limit) return true;
        }
        return false;
    };
    if (query.only_ids) {
        // The scope's ids after the cursor, a page of them at a time as parameters ($1…$n).
        const auto& ids = *query.only_ids;
        auto next = std::upper_bound(ids.begin(), ids.end(), after);
        while (next != ids.end()) {
            std::string sql = std::string("SELECT ") + kCustomerColumns + " FROM customers WHERE id IN (";
            storage::Params params;
            for (; next != ids.end() && static_cast<int>(params.size()) < page; ++next) {
                params.emplace_back(*next);
                sql += (params.size() > 1 ? ", $" : "$") + std::to_string(params.size());
            }
            auto r = db.run(sql + ") ORDER BY id", params);
            if (!r) return r.error();
            auto full = take(*r);
            if (!full) return full.error();
            if (*full) return out;
        }
        return out;
    }
    for (;;) {
        auto r = db.run(
            std::string("SELECT ") + kCustomerColumns + " FROM customers WHERE id > $1 ORDER BY id LIMIT $2",
            {after, std::int64_t{page}});
        if (!r) return r.error();
        auto full = take(*r);
        if (!full) return full.error();
        if (*full) return out;
        if (static_cast<int>(r->rows.size()) < page) return out;
    }
}

Result<std::optional<Customer>> get_customer(storage::Db& db, const FieldCipher& cipher, std::int64_t id) {
    auto r = db.run(std::string("SELECT ") + kCustomerColumns + " FROM customers WHERE id = $1", {id});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<Customer>{};
    auto c = decrypt_row(cipher, r->rows[0]);
    if (!c) return c.error();
    return std::optional<Customer>{std::move(*c)};
}

Result<Customer> create_customer(storage::Db& db, const FieldCipher& cipher, Customer c,
                                 const std::string& actor, TimePoint now) {
    if (auto errors = validate_customer(c); !errors.empty()) return errors.front();
    normalize(c);
    return storage::in_transaction(db, [&]() -> Result<Customer> {
        return detail::insert_customer(db, cipher, c, actor, "create", now);
    });
}

Result<Customer> create_customer_in_transaction(storage::Db& db, const FieldCipher& cipher, Customer c,
                                                const std::string& actor, TimePoint now) {
    if (auto errors = validate_customer(c); !errors.empty()) return errors.front();
    normalize(c);
    return detail::insert_customer(db, cipher, c, actor, "create", now);
}

Result<Customer> update_customer(storage::Db& db, const FieldCipher& cipher, Customer c,
                                 std::int64_t expected_version, const std::string& actor, TimePoint now) {
    if (auto errors = validate_customer(c); !errors.empty()) return errors.front();
    normalize(c);
    return storage::in_transaction(db, [&]() -> Result<Customer> {
        auto r = db.run(std::string("SELECT ") + kCustomerColumns + " FROM customers WHERE id = $1", {c.id});
        if (!r) return r.error();
        if (r->rows.empty())
            return Error{"customer " + std::to_string(c.id) + ": not found", ErrorKind::not_found};
        const Row& row = r->rows[0];
        auto before = decrypt_row(cipher, row);
        if (!before) return before.error();
        if (before->version != expected_version)
            return Error::at("version",
                             "customer " + std::to_string(c.id) + " is at version " +
                                 std::to_string(before->version) + ", not " +
                                 std::to_string(expected_version) + " (changed by someone else: reload it)",
                             ErrorKind::conflict);
        std::vector<std::string> changed;
        if (c.name != before->name) changed.emplace_back("name");
        if (c.phone != before->phone) changed.emplace_back("phone");
        if (c.email != before->email) changed.emplace_back("email");
        if (c.address != before->address) changed.emplace_back("address");
        if (c.notes != before->notes) changed.emplace_back("notes");
        if (changed.empty()) return *before;  // nothing to write, nothing to audit
        const auto enc = encrypt_fields(cipher, c);
        auto u = db.run(
            "UPDATE customers SET name_enc = $1, phone_enc = $2, email_enc = $3, address_enc = $4, notes_enc "
            "= $5, "
            "updated_at_ms = $6, version = version + 1 WHERE id = $7 AND version = $8",
            {enc.name, enc.phone, enc.email, enc.address, enc.notes, std::int64_t{to_epoch_ms(now)}, c.id,
             expected_version});
        if (!u) return u.error();
        if (u->affected == 0)
            return Error::at("version",
                             "customer " + std::to_string(c.id) + " was changed meanwhile: reload it",
                             ErrorKind::conflict);
        c.created_at = before->created_at;
        c.updated_at = now;
        c.version = expected_version + 1;
        if (auto s = storage::append_audit(db, now, actor, "update", "customer", std::to_string(c.id),
                                           audit_json(c.id, stored_fields(row), before->version),
                                           audit_json(c.id, enc, c.version, changed));
            !s)
            return s.error();
        return c;
    });
}

}  // namespace pvfleet::records
