#include "inference/session/prompt_budget.h"

#include <algorithm>

namespace ld {

int paced_prompt_budget(int current, int64_t tokens, double ms, double step_ms) {
    if (tokens < 2 || !(ms > 0) || !(step_ms > 0)) return current;
    const double ms_per_token = std::max(1e-3, ms / double(tokens));
    const double grown = std::max(1.0, double(current) * 4);
    return int(std::clamp(step_ms / ms_per_token, 1.0, std::min(grown, double(1 << 30))));
}

}  // namespace ld
