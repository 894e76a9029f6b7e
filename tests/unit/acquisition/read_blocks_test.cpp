// The block-read loop shared by the poller and the register-map model.
#include <doctest/doctest.h>

#include <vector>

#include "pvfleet/acquisition/read_blocks.hpp"

using namespace pvfleet;
using namespace pvfleet::acquisition;
using modbus::RegisterKind;

namespace {

// Answers each read with words equal to their addresses; the read at `fail_at` fails with a timeout.
class CountingBus final : public modbus::ModbusBus {
public:
    std::optional<uint16_t> fail_at;
    std::vector<ReadBlock> asked;

    Result<modbus::Registers> read_registers(uint8_t, RegisterKind kind, uint16_t address, uint16_t count) override {
        asked.push_back({kind, address, count});
        if (fail_at == address) return Error{"no answer within 1000 ms", ErrorKind::timeout};
        modbus::Registers words;
        for (uint16_t i = 0; i < count; ++i) words.push_back(static_cast<uint16_t>(address + i));
        return words;
    }
    Status write_registers(uint8_t, uint16_t, std::span<const uint16_t>) override { return {}; }
    [[nodiscard]] std::string describe() const override { return "counting"; }
};

const std::vector<ReadBlock> kBlocks{{RegisterKind::holding, 40072, 3}, {RegisterKind::input, 30001, 2}};

}  // namespace

TEST_CASE("read_blocks: one request per block, in order, words[i] answering blocks[i]") {
    CountingBus bus;
    auto words = read_blocks(bus, 1, kBlocks);
    REQUIRE(words);
    CHECK(bus.asked == kBlocks);
    REQUIRE(words->size() == 2);
    CHECK((*words)[0] == modbus::Registers{40072, 40073, 40074});
    CHECK((*words)[1] == modbus::Registers{30001, 30002});
    CHECK(read_blocks(bus, 1, {})->empty());
}

TEST_CASE("read_blocks: stops at the first failure and reports it as asked") {
    CountingBus bus;
    bus.fail_at = 40072;
    SUBCASE("as the bus said it") {
        auto words = read_blocks(bus, 1, kBlocks);
        REQUIRE_FALSE(words);
        CHECK(words.error() == Error{"no answer within 1000 ms", ErrorKind::timeout});
    }
    SUBCASE("led by the block") {
        auto words = read_blocks(bus, 1, kBlocks, BlockFailure::name_block);
        REQUIRE_FALSE(words);
        CHECK(words.error().message == "read of 3 holding registers at 40072: no answer within 1000 ms");
        CHECK(words.error().kind == ErrorKind::timeout);
    }
    CHECK(bus.asked.size() == 1);
    CHECK(describe(kBlocks[1]) == "read of 2 input registers at 30001");
}
