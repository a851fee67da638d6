#include "head/label_arena.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace promewma::head {
namespace {

TEST_CASE("arena copies stay intact across blocks and large label sets") {
  LabelArena arena;
  std::vector<std::string> originals;
  std::vector<std::string_view> copies;
  for (int i = 0; i < 20000; ++i) {
    // Mostly small sets (many blocks' worth), a large one now and then.
    std::string s = (i % 997 == 0) ? std::string(40000, 'a' + i % 26)
                                   : "labels-" + std::to_string(i);
    copies.push_back(arena.Copy(s));
    originals.push_back(std::move(s));
  }
  for (size_t i = 0; i < originals.size(); ++i) {
    REQUIRE(copies[i] == originals[i]);
    REQUIRE(copies[i].data() != originals[i].data());
  }
  REQUIRE(arena.Copy("").empty());
}

}  // namespace
}  // namespace promewma::head
