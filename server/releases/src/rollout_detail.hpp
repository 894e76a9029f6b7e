#pragma once
// Shared by the rollout repository and its engine.
#include <random>
#include <string>
#include <vector>

#include "pvfleet/releases/rollouts.hpp"

namespace pvfleet::releases::detail {

std::string stages_to_json(const std::vector<Stage>& stages);
std::vector<Stage> stages_from_json(const std::string& text);
std::optional<RolloutState> rollout_state_from(std::string_view s);
// Adds the sites of stage `stage` not in the rollout yet (pending, each after a random delay); returns how many.
Result<std::int64_t> start_stage(storage::Db& db, std::int64_t rollout_id, const RolloutSpec& spec, int stage,
                                 TimePoint now, std::mt19937_64& rng);

}  // namespace pvfleet::releases::detail
