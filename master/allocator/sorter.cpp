#include "master/allocator/sorter.hpp"

#include <algorithm>

#include "master/allocator/drf_sorter.hpp"
#include "master/allocator/random_sorter.hpp"

namespace stoa::allocator {

const std::vector<SorterPolicy>& sorter_table() {
  // The policy table: one line per sorter, kept sorted by name.
  static const std::vector<SorterPolicy> table = {
      {"drf", "weighted dominant resource fairness: lowest weighted dominant share first",
       [](uint64_t) -> std::unique_ptr<Sorter> { return std::make_unique<DrfSorter>(); }},
      {"random", "a fresh random order on every visit, weighted by client weight",
       [](uint64_t seed) -> std::unique_ptr<Sorter> { return std::make_unique<RandomSorter>(seed); }},
  };
  return table;
}

namespace {

const SorterPolicy* find_policy(std::string_view name) {
  const std::vector<SorterPolicy>& table = sorter_table();
  auto it = std::find_if(table.begin(), table.end(), [&](const SorterPolicy& p) { return p.name == name; });
  return it == table.end() ? nullptr : &*it;
}

}  // namespace

Try<std::unique_ptr<Sorter>> make_sorter(std::string_view policy, uint64_t seed) {
  const SorterPolicy* found = find_policy(policy);
  if (found == nullptr) {
    std::string known;
    for (const std::string& name : sorter_names()) {
      known += (known.empty() ? "" : ", ") + name;
    }
    return Error("Unknown allocator policy '" + std::string(policy) + "' (known: " + known + ")");
  }
  return found->make(seed);
}

std::vector<std::string> sorter_names() {
  std::vector<std::string> out;
  for (const SorterPolicy& policy : sorter_table()) {
    out.emplace_back(policy.name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string sorter_description(std::string_view policy) {
  const SorterPolicy* found = find_policy(policy);
  return found == nullptr ? std::string() : std::string(found->description);
}

std::string sorter_help() {
  std::string out;
  for (const std::string& name : sorter_names()) {
    out += (out.empty() ? "" : "; ") + name + ": " + sorter_description(name);
  }
  return out;
}

std::vector<std::string> sorter_policies() { return sorter_names(); }

}  // namespace stoa::allocator
