#pragma once
// How many prompt tokens one BatchScheduler step may take besides its decode tokens
// (BatchScheduler::set_prompt_budget), sized from the measured speed so that a step stays near
// 50 ms: a stop, a new request and the sequences that are decoding then wait for one short
// step, not for a whole prompt chunk of step_tokens (seconds on a CPU with an 8B model). Used by
// every caller that steps a scheduler: the app's engine worker and `llamadesk-cli serve`.
#include <cstdint>

namespace ld {

constexpr double kPromptStepMs = 50;     // half the 100 ms a stop may take
constexpr int kInitialPromptBudget = 8;  // the speed is unknown before the first steps: start small

// The budget after a step that ran `tokens` tokens in `ms` milliseconds, given the `current` one:
// step_ms' worth of tokens at the measured speed, at least 1. A step of fewer than 2 tokens
// (its fixed cost hides the per-token one) or without a time keeps `current`; the budget grows
// at most 4x a step, so one cheap step does not open it all at once.
int paced_prompt_budget(int current, int64_t tokens, double ms, double step_ms = kPromptStepMs);

}  // namespace ld
