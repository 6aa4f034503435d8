#include "master/allocator/sorter.hpp"

#include <map>

#include "master/allocator/drf_sorter.hpp"
#include "master/allocator/random_sorter.hpp"

namespace stoa::allocator {

namespace {

using SorterFactory = std::unique_ptr<Sorter> (*)(uint64_t seed);

// The policy table: one line per sorter.
const std::map<std::string, SorterFactory, std::less<>>& factories() {
  static const std::map<std::string, SorterFactory, std::less<>> table = {
      {"drf", [](uint64_t) -> std::unique_ptr<Sorter> { return std::make_unique<DrfSorter>(); }},
      {"random", [](uint64_t seed) -> std::unique_ptr<Sorter> { return std::make_unique<RandomSorter>(seed); }},
  };
  return table;
}

}  // namespace

Try<std::unique_ptr<Sorter>> make_sorter(std::string_view policy, uint64_t seed) {
  auto it = factories().find(policy);
  if (it == factories().end()) {
    std::string known;
    for (const std::string& name : sorter_policies()) {
      known += (known.empty() ? "" : ", ") + name;
    }
    return Error("Unknown allocator policy '" + std::string(policy) + "' (known: " + known + ")");
  }
  return it->second(seed);
}

std::vector<std::string> sorter_policies() {
  std::vector<std::string> out;
  for (const auto& [name, factory] : factories()) {
    out.push_back(name);
  }
  return out;
}

}  // namespace stoa::allocator
