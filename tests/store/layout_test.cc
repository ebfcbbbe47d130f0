// The store layout written down in schemas/store-layout.json is what FrameStore writes.
#include <hdf5.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "frame_pattern.h"
#include "op4d/store/frame_store.h"
#include "test_util.h"

using namespace op4d;

namespace {
bool HasAttr(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }
int Rank(hid_t file, const std::string& path) {
  hid_t ds = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
  REQUIRE(ds >= 0);
  hid_t sp = H5Dget_space(ds);
  const int r = H5Sget_simple_extent_ndims(sp);
  H5Sclose(sp);
  H5Dclose(ds);
  return r;
}
}  // namespace

TEST_CASE("a written store matches schemas/store-layout.json", "[store][layout]") {
  std::ifstream in(std::string(OP4D_SOURCE_DIR) + "/schemas/store-layout.json");
  REQUIRE(in.good());
  const nlohmann::json layout = nlohmann::json::parse(in);
  test::TempDir dir;
  const std::string path = dir / "layout.h5";
  {
    FrameStore s = FrameStore::Create(path);
    StoreOptions opt;
    opt.phases = PhaseTable::Electrode();
    s.AppendFrame(test::PatternFrame(0, {8, 8, 8}), {{"time_s", 0}}, {"test"}, opt);
    s.WriteFrameTable(0, {"t", {{"a", "1", {1.0}}}}, {"test"});
    s.WriteSeriesTable({"s", {{"b", "s", {2.0}}}}, {"test"});
  }
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  REQUIRE(f >= 0);
  for (const auto& [name, _] : layout["root_attributes"].items()) {
    INFO("root attribute " << name);
    REQUIRE(HasAttr(f, name));
  }
  for (const auto& g : layout["groups"]) {
    INFO("group " << g);
    REQUIRE(H5Lexists(f, g.get<std::string>().c_str(), H5P_DEFAULT) > 0);
  }
  const auto& vol = layout["datasets"]["/frames/volume"];
  REQUIRE(Rank(f, "/frames/volume") == vol["rank"].get<int>());
  hid_t ds = H5Dopen2(f, "/frames/volume", H5P_DEFAULT);
  for (const auto& [name, _] : vol["attributes"].items()) {
    INFO("/frames/volume attribute " << name);
    REQUIRE(HasAttr(ds, name));
  }
  H5Dclose(ds);
  REQUIRE(Rank(f, "/frames/provenance") == 1);
  for (const auto& c : layout["datasets"]["/time/<column>"]["required_columns"]) {
    const std::string p = "/time/" + c.get<std::string>();
    INFO(p);
    REQUIRE(Rank(f, p) == 1);
    hid_t d = H5Dopen2(f, p.c_str(), H5P_DEFAULT);
    REQUIRE(HasAttr(d, "unit"));
    H5Dclose(d);
  }
  for (const std::string table : {"/results/000000/t", "/series/s"}) {
    hid_t g = H5Gopen2(f, table.c_str(), H5P_DEFAULT);
    REQUIRE(g >= 0);
    REQUIRE(HasAttr(g, "provenance"));
    REQUIRE(HasAttr(g, "columns"));
    H5Gclose(g);
  }
  H5Fclose(f);
}
