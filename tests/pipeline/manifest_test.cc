#include "op4d/pipeline/manifest.h"

#include <cmath>
#include <fstream>

#include "test_util.h"

using namespace op4d;

TEST_CASE("manifests give files, time-table rows and user columns with units", "[pipeline][manifest]") {
  test::TempDir dir;
  std::ofstream(dir / "m.csv") << "# beamline X, campaign 7\n"
                                  "file, time_s, voltage_V, p_app_Pa, temperature_K [K], frame\n"
                                  "scan_0.tif, 0, 3.6, 101325, 298.15, 0\n"
                                  "\n"
                                  "\"sub dir/scan,1.tif\", 600.5, , 1.5e5, 299, 2\n"
                                  "/abs/scan_2.tif, 1200, 3.8, 2e5, 300, 0\n";
  const Manifest m = ReadManifest(dir / "m.csv");
  REQUIRE(m.entries.size() == 3);
  REQUIRE(m.entries[0].file == dir / "scan_0.tif");
  REQUIRE(m.entries[1].file == dir / "sub dir/scan,1.tif");
  REQUIRE(m.entries[2].file == "/abs/scan_2.tif");
  REQUIRE(m.entries[1].frame == 2);
  REQUIRE(m.entries[1].row.count("voltage_V") == 0);  // empty cell = not measured
  REQUIRE(m.entries[1].row.at("time_s") == 600.5);
  REQUIRE(m.entries[1].line == 5);
  REQUIRE(m.user_columns.size() == 1);
  REQUIRE(m.user_columns[0].name == "temperature_K");
  REQUIRE(m.user_columns[0].unit == "K");
}

TEST_CASE("bad manifests name the file, line and column", "[pipeline][manifest][errors]") {
  test::TempDir dir;
  auto msg = [&](const std::string& text) {
    std::ofstream(dir / "bad.csv") << text;
    try {
      ReadManifest(dir / "bad.csv");
    } catch (const IoError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string p = dir / "bad.csv";
  REQUIRE(msg("file,voltage_V\na.tif,3\n") == p + ":line 1: the header has no 'time_s' column");
  REQUIRE(msg("file,time_s\na.tif,zero\n") == p + ":line 2, column time_s: 'zero' is not a finite number");
  REQUIRE(msg("file,time_s\na.tif,5\nb.tif,4\n") == p + ":line 3, column time_s: times must increase from line to line");
  REQUIRE(msg("file,time_s\na.tif,5,6\n") == p + ":line 2: has 3 fields, the header has 2");
  REQUIRE(msg("file,time_s\n") == p + ": the manifest lists no frames");
  REQUIRE(msg("file,time_s,file\n") == p + ":line 1: column 'file' appears twice");
}
