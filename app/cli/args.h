#pragma once
// A small command-line parser: each command declares its options; anything else is a usage
// error (one line on stderr, exit code 1).
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace ld::cli {

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct OptionSpec {
    std::string names;  // "-m|--model": aliases; the last one is the canonical name
    bool takes_value;
};

class Args {
public:
    Args(const std::vector<std::string>& argv, const std::vector<OptionSpec>& specs);

    bool has(const std::string& name) const { return values_.count(name) > 0; }
    std::string get(const std::string& name, const std::string& fallback = "") const;
    std::vector<std::string> get_all(const std::string& name) const;  // repeated options
    long long get_int(const std::string& name, long long fallback, long long min, long long max) const;
    double get_double(const std::string& name, double fallback) const;
    std::string require(const std::string& name) const;
    const std::vector<std::string>& positional() const { return positional_; }

private:
    std::map<std::string, std::vector<std::string>> values_;
    std::vector<std::string> positional_;
};

}  // namespace ld::cli
