// The SMTP config and libcurl's SMTP client.
#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "pvfleet/notifications/email.hpp"
#include "pvfleet/notifications/settings.hpp"
#include "pvfleet/util/config_schema.hpp"

namespace pvfleet::notifications {
namespace {

using config::integer;
using config::optional;
using config::required;
using config::string;

const config::Wording kSmtpWording = config::server_wording(config::RangeWords::integer);
const config::Object kSmtp{
    {required("url", string().non_empty()), required("from", string().non_empty()),
     optional("username", string().non_empty()), optional("password_file", string().non_empty()),
     optional("ca_file", string().non_empty()), optional("ca_path", string().non_empty()),
     optional("require_tls", config::boolean()), optional("timeout_s", integer(1, 300)),
     optional("max_attempts", integer(1, 50)), optional("first_retry_s", integer(1, 86400))},
    kSmtpWording};

std::string resolve(const std::filesystem::path& base_dir, const std::string& file) {
    const std::filesystem::path p(file);
    return p.is_absolute() || base_dir.empty() ? file : (base_dir / p).string();
}

// smtp://host[:port] or smtps://host[:port], nothing after the authority but an optional "/" (the EHLO name).
std::optional<std::string> url_problem(const std::string& url) {
    std::string rest;
    if (url.rfind("smtp://", 0) == 0)
        rest = url.substr(7);
    else if (url.rfind("smtps://", 0) == 0)
        rest = url.substr(8);
    else
        return "expected smtp://HOST[:PORT] or smtps://HOST[:PORT]";
    for (char c : url)
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
            return "must not contain spaces or control characters";
    if (rest.find('@') != std::string::npos) return "credentials go in smtp/username and smtp/password_file";
    const auto slash = rest.find('/');
    const std::string authority = rest.substr(0, slash);
    if (authority.empty() || authority.front() == ':') return "no host";
    return std::nullopt;
}

Result<std::string> read_password(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    std::string pw;
    if (!in || !std::getline(in, pw)) return Error::at("smtp/password_file", "cannot read '" + file + "'");
    if (!pw.empty() && pw.back() == '\r') pw.pop_back();
    if (pw.empty()) return Error::at("smtp/password_file", "'" + file + "' is empty");
    return pw;
}

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The message handed to curl piece by piece.
struct Upload {
    const std::string& data;
    std::size_t offset = 0;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t items, void* user) {
    auto* up = static_cast<Upload*>(user);
    const std::size_t n = std::min(size * items, up->data.size() - up->offset);
    std::memcpy(buffer, up->data.data() + up->offset, n);
    up->offset += n;
    return n;
}

}  // namespace

Result<SmtpConfig> parse_smtp_config(const nlohmann::json& section, const std::filesystem::path& base_dir) {
    config::Errors e;
    if (!section.is_object()) return Error::at("smtp", "expected an object");
    kSmtp.check_keys(section, "smtp", e);
    config::Reader r(section, "smtp", kSmtp, e);
    SmtpConfig c;
    if (auto v = r.string("url")) {
        c.url = *v;
        if (auto p = url_problem(c.url)) e.add("smtp/url", *p);
    }
    if (auto v = r.string("from")) {
        c.from = *v;
        if (auto ok = check_email_address(c.from, "smtp/from"); !ok) e.add(ok.error());
    }
    if (auto v = r.string("username")) c.username = *v;
    if (auto v = r.string("password_file")) {
        c.password_file = resolve(base_dir, *v);
        if (auto pw = read_password(c.password_file); !pw) e.add(pw.error());
    }
    if (!c.username.empty() && c.password_file.empty())
        e.add("smtp/password_file", "required with smtp/username");
    if (c.username.empty() && !c.password_file.empty())
        e.add("smtp/username", "required with smtp/password_file");
    if (auto v = r.string("ca_file")) c.ca_file = resolve(base_dir, *v);
    if (auto v = r.string("ca_path")) c.ca_path = resolve(base_dir, *v);
    if (const auto* v = r.value("require_tls")) c.require_tls = v->get<bool>();
    if (auto v = r.integer("timeout_s")) c.timeout_s = static_cast<int>(*v);
    if (auto v = r.integer("max_attempts")) c.max_attempts = static_cast<int>(*v);
    if (auto v = r.integer("first_retry_s")) c.first_retry_s = static_cast<int>(*v);
    if (!e.empty()) return e.joined();
    return c;
}

nlohmann::json describe(const SmtpConfig& c) {
    return {{"url", c.url},
            {"from", c.from},
            {"username", c.username},
            {"password_file", c.password_file},
            {"ca_file", c.ca_file},
            {"ca_path", c.ca_path},
            {"require_tls", c.require_tls || !c.username.empty()},
            {"timeout_s", c.timeout_s},
            {"max_attempts", c.max_attempts},
            {"first_retry_s", c.first_retry_s}};
}

Result<std::unique_ptr<SmtpMailer>> SmtpMailer::create(const SmtpConfig& config) {
    global_init();
    std::string password;
    if (!config.password_file.empty()) {
        auto pw = read_password(config.password_file);
        if (!pw) return pw.error();
        password = std::move(*pw);
    }
    return std::unique_ptr<SmtpMailer>(new SmtpMailer(config, std::move(password)));
}

Status SmtpMailer::send(const std::string& from, const std::string& to, const std::string& message) {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
    if (!curl) return Error{"smtp: curl_easy_init failed", ErrorKind::io};
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> rcpt(nullptr, &curl_slist_free_all);
    const std::string envelope_to = "<" + to + ">";
    rcpt.reset(curl_slist_append(nullptr, envelope_to.c_str()));
    if (!rcpt) return Error{"smtp: out of memory", ErrorKind::io};
    const std::string envelope_from = "<" + from + ">";
    Upload upload{message};
    char error[CURL_ERROR_SIZE] = {0};
    CURL* h = curl.get();
    curl_easy_setopt(h, CURLOPT_URL, config_.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, envelope_from.c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt.get());
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &read_upload);
    curl_easy_setopt(h, CURLOPT_READDATA, &upload);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // a thread of its own: no SIGALRM for the resolver
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(std::min(config_.timeout_s, 30)));
    curl_easy_setopt(h, CURLOPT_TIMEOUT, static_cast<long>(config_.timeout_s));
    // smtps:// is TLS from the start. smtp:// upgrades with STARTTLS when the server offers it, and insists
    // on it when asked to or when there are credentials to protect.
    const bool must_tls = config_.require_tls || !config_.username.empty();
    curl_easy_setopt(h, CURLOPT_USE_SSL,
                     must_tls ? static_cast<long>(CURLUSESSL_ALL) : static_cast<long>(CURLUSESSL_TRY));
    if (!config_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, config_.ca_file.c_str());
    if (!config_.ca_path.empty()) curl_easy_setopt(h, CURLOPT_CAPATH, config_.ca_path.c_str());
    if (!config_.username.empty()) {
        curl_easy_setopt(h, CURLOPT_USERNAME, config_.username.c_str());
        curl_easy_setopt(h, CURLOPT_PASSWORD, password_.c_str());
    }
    const CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        long response = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response);
        std::string detail = error[0] != 0 ? std::string(error) : std::string(curl_easy_strerror(rc));
        if (response != 0) detail += " (SMTP " + std::to_string(response) + ")";
        return Error{"smtp: " + detail, ErrorKind::io};
    }
    return {};
}

}  // namespace pvfleet::notifications
