#include "pvfleet/records/key_check.hpp"

#include <openssl/crypto.h>

#include <filesystem>
#include <optional>

#include "pvfleet/util/log.hpp"

namespace pvfleet::records {
namespace {

constexpr const char* kPurpose = "customer_fields";

struct StoredKeyState {
    std::optional<std::string> check_value;
    std::optional<std::int64_t> customer_id;  // the oldest customer, if any
    std::string ciphertext;                   // one of its encrypted fields
};

Result<StoredKeyState> read_state(storage::Db& db) {
    StoredKeyState state;
    auto check = db.run("SELECT check_value FROM field_key_check WHERE purpose = $1", {std::string(kPurpose)});
    if (!check) return check.error();
    if (!check->rows.empty()) state.check_value = check->rows[0].text(0);
    auto oldest = db.run(
        "SELECT id, name_enc, phone_enc, email_enc, address_enc, notes_enc FROM customers ORDER BY id LIMIT 1");
    if (!oldest) return oldest.error();
    if (!oldest->rows.empty()) {
        const auto& row = oldest->rows[0];
        state.customer_id = row.integer(0);
        for (std::size_t i = 1; i < row.cols.size() && state.ciphertext.empty(); ++i)
            if (!row.is_null(i)) state.ciphertext = row.text(i);
    }
    return state;
}

bool same_check_value(const std::string& a, const std::string& b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Error mismatch(const std::string& path) {
    return Error{path +
                     ": this is not the key the database's personal customer data is encrypted under (the "
                     "database's key check value differs); start with that key file",
                 ErrorKind::invalid};
}

}  // namespace

Result<FieldCipher> open_field_cipher(storage::Db& db, const KeyFileOptions& options, TimePoint now) {
    const std::string& path = options.path;
    auto state = read_state(db);
    if (!state) return Error{path + ": checking the key against the database: " + state.error().message, state.error().kind};
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) && (state->check_value || state->customer_id)) {
        return Error{path + ": key file not found, but the database holds personal customer data encrypted under "
                            "a key; restore that key file (a new key would leave the data unreadable)",
                     ErrorKind::not_found};
    }
    auto cipher = options.create_if_missing ? FieldCipher::load_or_create(path) : FieldCipher::from_key_file(path);
    if (!cipher) return cipher.error();
    const std::string check = cipher->check_value();
    if (state->check_value) {
        if (!same_check_value(*state->check_value, check)) return mismatch(path);
        return cipher;
    }
    if (state->customer_id && !state->ciphertext.empty() && !cipher->decrypt(state->ciphertext)) {
        return Error{path + ": this key does not decrypt the database's personal customer data (customer " +
                         std::to_string(*state->customer_id) + "); start with the key file it is encrypted under",
                     ErrorKind::invalid};
    }
    // Two servers starting together on one database: the first check value stored wins, the other compares.
    auto stored = db.run(
        "INSERT INTO field_key_check (purpose, check_value, created_at_ms) VALUES ($1, $2, $3) ON CONFLICT "
        "(purpose) DO NOTHING",
        {std::string(kPurpose), check, to_epoch_ms(now)});
    if (!stored) return Error{path + ": storing the key check value: " + stored.error().message, stored.error().kind};
    auto again = read_state(db);
    if (!again) return again.error();
    if (!again->check_value || !same_check_value(*again->check_value, check)) return mismatch(path);
    PVF_LOG(info, "records", path << ": key check value stored in the database");
    return cipher;
}

}  // namespace pvfleet::records
