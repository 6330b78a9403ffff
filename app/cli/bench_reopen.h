#pragma once
// `bench --reopen N`: time to first token when going back to an N-token chat (bench_reopen.cpp).
#include "app/cli/args.h"

namespace ld::cli {

// Runs the reopen benchmark with bench's parsed options (-m, -n, -r, --json and the engine
// options). Returns the exit code; throws UsageError / ld::Error.
int bench_reopen(const Args& args, int n_tokens);

}  // namespace ld::cli
