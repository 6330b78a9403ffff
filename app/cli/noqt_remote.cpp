// Engine-only builds (no Qt): the remote-engine client lives in the app core (QtNetwork).
#include <iostream>

#include "app/cli/commands.h"

namespace ld::cli {

int run_remote_generate(const ArgList&) {
    std::cerr << "error: this llamadesk-cli was built without Qt, so it cannot use remote engines (--remote); "
                 "build it with Qt, or run generate -m MODEL locally\n";
    return 1;
}

}  // namespace ld::cli
