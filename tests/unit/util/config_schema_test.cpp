#include <doctest/doctest.h>

#include "pvfleet/util/config_schema.hpp"

using namespace pvfleet;
using config::Json;

namespace {
// A wording like the site config's: "required", keys listed in declared order.
const config::Wording kWords{
    "required",
    config::KeyList::declared,
    [](const config::Field& f, const Json& v) {
        return "expected " + std::string(config::type_words(f.type)) + ", got " + v.type_name();
    },
    [](const config::Field& f, const Json& v) {
        return "expected " + std::to_string(static_cast<long long>(f.lo)) + ".." +
               std::to_string(static_cast<long long>(f.hi)) + ", got " + v.dump();
    },
    {}};

const config::Object kPort{{config::required("host", config::string().non_empty()),
                            config::optional("port", config::integer(1, 65535)),
                            config::optional("mode", config::one_of({"tcp", "rtu"})),
                            config::optional("path", config::string())},
                           kWords};
}  // namespace

TEST_CASE("config schema: unknown keys are refused with their path, listed as the format lists them") {
    const Json doc = {{"host", "h"}, {"colour", 1}};
    config::Errors errors;
    kPort.check_keys(doc, "endpoints/0", errors);
    REQUIRE(errors.list().size() == 1);
    CHECK(errors.list()[0].message == "endpoints/0/colour: unknown key (expected one of host, port, mode, path)");
    CHECK(errors.list()[0].path == "endpoints/0/colour");

    const config::Wording sorted{"missing", config::KeyList::sorted, kWords.wrong_type, kWords.out_of_range, {}};
    const config::Wording bare{"missing", config::KeyList::none, kWords.wrong_type, kWords.out_of_range, {}};
    const config::Object s{{config::optional("b"), config::optional("a")}, sorted};
    const config::Object n{{config::optional("b"), config::optional("a")}, bare};
    CHECK(s.check_keys(Json{{"c", 1}}).error().message == "c: unknown key (expected a, b)");
    CHECK(n.check_keys(Json{{"c", 1}}).error().message == "c: unknown key");
    CHECK(n.check_keys(Json{{"a", 1}}).ok());
}

TEST_CASE("config schema: required, types, ranges and choices") {
    CHECK(kPort.check(Json::object(), "host").error().message == "host: required");
    CHECK(kPort.check(Json{{"host", ""}}, "host").error().message == "host: expected a string, got string");
    CHECK(kPort.check(Json{{"host", 3}}, "host").error().message == "host: expected a string, got number");
    CHECK(*kPort.check(Json::object(), "port") == nullptr);
    CHECK(kPort.check(Json{{"port", 0}}, "port").error().message == "port: expected 1..65535, got 0");
    CHECK(kPort.check(Json{{"port", 1.5}}, "port").error().message == "port: expected an integer, got number");
    CHECK(kPort.check(Json{{"port", 80}}, "port", 100, 200).error().message == "port: expected 100..200, got 80");
    CHECK(kPort.check(Json{{"mode", "udp"}}, "mode").error().message == "mode: unknown 'udp' (expected tcp, rtu)");
    CHECK(kPort.check(Json::object(), "path", config::Need::required).error().message == "path: required");
    const Json mode{{"mode", "rtu"}};
    CHECK(**kPort.check(mode, "mode") == "rtu");
}

TEST_CASE("config schema: a reader collects every error under its path and goes on") {
    const Json doc = {{"host", 5}, {"port", 99999}, {"mode", "tcp"}};
    config::Errors errors;
    config::Reader r(doc, "link", kPort, errors);
    CHECK_FALSE(r.string("host"));
    CHECK_FALSE(r.integer("port"));
    CHECK(r.string("mode") == "tcp");
    CHECK_FALSE(r.string("path"));
    REQUIRE(errors.list().size() == 2);
    const Error all = errors.joined();
    CHECK(all.message == "link/host: expected a string, got number\nlink/port: expected 1..65535, got 99999");
    CHECK(all.path.empty());  // two keys: no single path
    config::Errors one;
    one.add("a/b", "bad");
    CHECK(one.joined().path == "a/b");
}

TEST_CASE("config schema: first-error reads leave an absent optional key alone") {
    std::string path = "default";
    int port = 7;
    CHECK(config::read(kPort, Json{{"host", "h"}}, "path", path).ok());
    CHECK(path == "default");
    CHECK(config::read(kPort, Json{{"port", 443}}, "port", port).ok());
    CHECK(port == 443);
    CHECK(config::read(kPort, Json{{"port", "x"}}, "port", port).error().path == "port");
}
