// Engine-only builds (no Qt): `serve --db` has no history database to write to.
#include "app/cli/cli_hooks.h"
#include "app/cli/server/chat_log.h"

namespace ld::cli {

std::unique_ptr<server::ChatLog> make_api_chat_log(const std::string&, std::string* error) {
    *error = "this llamadesk-cli was built without Qt, so `serve --db` cannot save chats: it has no conversation history";
    return nullptr;
}

}  // namespace ld::cli
