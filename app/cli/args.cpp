#include "app/cli/args.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace ld::cli {

namespace {
std::vector<std::string> split_names(const std::string& names) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        const size_t bar = names.find('|', start);
        out.push_back(names.substr(start, bar - start));
        if (bar == std::string::npos) return out;
        start = bar + 1;
    }
}
}  // namespace

Args::Args(const std::vector<std::string>& argv, const std::vector<OptionSpec>& specs) {
    std::map<std::string, std::pair<std::string, bool>> lookup;  // alias -> canonical, takes value
    for (const OptionSpec& s : specs) {
        const std::vector<std::string> names = split_names(s.names);
        for (const std::string& n : names) lookup[n] = {names.back(), s.takes_value};
    }
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a.size() > 1 && a[0] == '-' && !(a.size() > 1 && (std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.'))) {
            std::string name = a, value;
            bool inline_value = false;
            if (const size_t eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
                name = a.substr(0, eq);
                value = a.substr(eq + 1);
                inline_value = true;
            }
            auto it = lookup.find(name);
            if (it == lookup.end()) throw UsageError("unknown option " + name);
            if (it->second.second) {
                if (!inline_value) {
                    if (i + 1 >= argv.size()) throw UsageError("option " + name + " needs a value");
                    value = argv[++i];
                }
            } else if (inline_value) {
                throw UsageError("option " + name + " takes no value");
            }
            values_[it->second.first].push_back(value);
        } else {
            positional_.push_back(a);
        }
    }
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second.back();
}

std::vector<std::string> Args::get_all(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string Args::require(const std::string& name) const {
    if (!has(name)) throw UsageError("missing " + name);
    return get(name);
}

long long Args::get_int(const std::string& name, long long fallback, long long min, long long max) const {
    if (!has(name)) return fallback;
    const std::string s = get(name);
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno != 0)
        throw UsageError(name + " expects an integer, got '" + s + "'");
    if (v < min || v > max)
        throw UsageError(name + " must be between " + std::to_string(min) + " and " + std::to_string(max));
    return v;
}

double Args::get_double(const std::string& name, double fallback) const {
    if (!has(name)) return fallback;
    const std::string s = get(name);
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || !std::isfinite(v))
        throw UsageError(name + " expects a number, got '" + s + "'");
    return v;
}

}  // namespace ld::cli
