// A data dir from before the request log moved to segment files: its
// records, kept in a RocksDB column family, are moved over at Open and
// replay as before; the family is dropped once they are.

#include <rocksdb/db.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "codec/crc32c.h"
#include "store/store.h"
#include "testing/subprocess.h"

namespace promewma::store {
namespace {

using testing::TempDir;

std::string SeqKey(uint64_t seq) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i, seq >>= 8) key[i] = static_cast<char>(seq);
  return key;
}

// The old format: key = seq big-endian; value = type 1, CRC-32C (LE), body.
std::string LegacyValue(const std::string& body) {
  std::string value(5, '\0');
  value[0] = 1;
  const uint32_t crc = codec::Crc32c(body);
  std::memcpy(&value[1], &crc, 4);
  return value + body;
}

// Writes a database as the old layout had it, records 1..n in "log".
void WriteLegacyDir(const std::string& dir, int n, bool corrupt_last = false) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : {"default", "log", "chunks", "checkpoint"}) {
    families.push_back({name, rocksdb::ColumnFamilyOptions()});
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  REQUIRE(rocksdb::DB::Open(db_options, dir, families, &handles, &db).ok());
  for (int seq = 1; seq <= n; ++seq) {
    std::string value = LegacyValue("old body " + std::to_string(seq));
    if (corrupt_last && seq == n) value.back() ^= 1;
    REQUIRE(db->Put(rocksdb::WriteOptions(), handles[1], SeqKey(seq), value)
                .ok());
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
}

std::vector<std::string> Families(const std::string& dir) {
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names)
              .ok());
  return names;
}

TEST_CASE("an old data dir's request log is moved over and replays") {
  TempDir dir;
  WriteLegacyDir(dir.path(), 3);
  std::vector<std::string> bodies;
  {
    StoreOptions options;
    options.dir = dir.path();
    auto store = Store::Open(options);
    INFO(store.status().ToString());
    REQUIRE(store.ok());
    REQUIRE(store.value()->last_seq() == 3);
    REQUIRE(store.value()
                ->ReplayRequests(0,
                                 [&](uint64_t seq, std::string_view body) {
                                   REQUIRE(seq == bodies.size() + 1);
                                   bodies.emplace_back(body);
                                   return Status::Ok();
                                 })
                .ok());
    REQUIRE(store.value()->AppendRequest(4, "new body 4").ok());
  }
  REQUIRE(bodies ==
          std::vector<std::string>{"old body 1", "old body 2", "old body 3"});
  const auto families = Families(dir.path());
  REQUIRE(std::find(families.begin(), families.end(), "log") ==
          families.end());
  // Reopened: no second move, and the new record follows the old ones.
  StoreOptions options;
  options.dir = dir.path();
  auto store = Store::Open(options);
  REQUIRE(store.ok());
  bodies.clear();
  REQUIRE(store.value()
              ->ReplayRequests(0,
                               [&](uint64_t, std::string_view body) {
                                 bodies.emplace_back(body);
                                 return Status::Ok();
                               })
              .ok());
  REQUIRE(bodies.size() == 4);
  REQUIRE(bodies.back() == "new body 4");
}

TEST_CASE("a corrupt record in an old request log stops the move") {
  TempDir dir;
  WriteLegacyDir(dir.path(), 3, /*corrupt_last=*/true);
  StoreOptions options;
  options.dir = dir.path();
  auto store = Store::Open(options);
  REQUIRE_FALSE(store.ok());
  REQUIRE(store.status().message() ==
          "request log record 3: checksum mismatch");
  // The old log stays for a closer look.
  const auto families = Families(dir.path());
  REQUIRE(std::find(families.begin(), families.end(), "log") !=
          families.end());
}

}  // namespace
}  // namespace promewma::store
