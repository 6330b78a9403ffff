#pragma once
// The CLI's remote-engine options (--remote URL --remote-model NAME [--api-key K |
// --api-key-file F] [--ca-file F] [--timeout S] ...), shared by generate and summarize.
#include <memory>
#include <vector>

#include "app/cli/args.h"
#include "app/remote/endpoint.h"
#include "app/remote/remote_completion.h"

namespace ld::cli {

std::vector<OptionSpec> remote_option_specs();
// The endpoint the options describe. Throws UsageError for a bad URL or conflicting options.
remote::RemoteEndpoint remote_endpoint(const Args& args);
// The summarizer's completion on --remote-model; throws ld::Error when the server cannot be
// used (unreachable, no such model).
std::unique_ptr<remote::RemoteCompletion> open_remote_completion(const Args& args);

}  // namespace ld::cli
