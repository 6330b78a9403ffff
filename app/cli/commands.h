#pragma once
// llamadesk-cli subcommands. Each takes the arguments after its name and returns the exit code;
// they throw UsageError / ld::Error, which main() prints as one line and turns into exit 1.
#include <string>
#include <vector>

namespace ld::cli {

using ArgList = std::vector<std::string>;

int cmd_generate(const ArgList& args);
int cmd_tokenize(const ArgList& args);
int cmd_info(const ArgList& args);
int cmd_bench(const ArgList& args);
int cmd_quantize(const ArgList& args);
int cmd_synth(const ArgList& args);
int cmd_devices(const ArgList& args);
int cmd_serve(const ArgList& args);
// `mcp --config FILE list | call ...`: qt_mcp.cpp, or noqt_mcp.cpp in engine-only builds.
int run_mcp_command(const ArgList& args);

}  // namespace ld::cli
