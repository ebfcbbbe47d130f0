// The op4d executable: help for every subcommand, one-line errors naming the file, exit codes,
// and a store that h5py reads without op4d.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "test_util.h"

namespace {
const std::string kOp4d = OP4D_EXE;
int Run(const std::string& args, std::string* out) { return op4d::test::RunCommand(kOp4d + " " + args, out); }
}  // namespace

TEST_CASE("every subcommand has --help", "[cli]") {
  std::string out;
  REQUIRE(Run("--help", &out) == 0);
  REQUIRE(out.find("commands:") != std::string::npos);
  for (const std::string c : {"synth", "import", "info", "export", "quicklook", "network", "tortuosity", "geometry", "demo"}) {
    INFO(c);
    REQUIRE(Run(c + " --help", &out) == 0);
    REQUIRE(out.find("usage: op4d " + c) == 0);
  }
}

TEST_CASE("errors are one line naming what is at fault, with a non-zero exit", "[cli][errors]") {
  op4d::test::TempDir dir;
  std::string out;
  REQUIRE(Run("info " + (dir / "none.h5"), &out) == 1);
  REQUIRE(out == "op4d: error: " + (dir / "none.h5") + ": does not exist\n");
  REQUIRE(Run("import --store " + (dir / "x.h5") + " --bogus", &out) == 2);
  REQUIRE(out == "op4d: error: --bogus: unknown option for 'op4d import' (see op4d import --help)\n");
  std::ofstream(dir / "v.raw") << std::string(10, 'x');
  REQUIRE(Run("import " + (dir / "v.raw") + " --store " + (dir / "x.h5") + " --shape 2 2 2 --dtype uint16", &out) == 1);
  REQUIRE(out.find("op4d: error: " + (dir / "v.raw") + ": size is 10 bytes") == 0);
  REQUIRE(Run("synth --out /etc/passwd/c.h5 --frames 1 --shape 8 8 8 --quiet", &out) == 1);
  REQUIRE(out.find("/etc/passwd/c.h5") != std::string::npos);
  REQUIRE(Run("nonsense", &out) == 2);
}

TEST_CASE("a frame that does not fit the campaign fails the import and keeps the stored frames", "[cli][errors]") {
  op4d::test::TempDir dir;
  std::string out;
  const std::string store = dir / "c.h5";
  REQUIRE(Run("synth --out " + (dir / "s.h5") + " --frames 1 --shape 8 10 12 --radius 2 --quiet", &out) == 0);
  REQUIRE(Run("export " + (dir / "s.h5") + " --frame 0 --out " + (dir / "f.tif"), &out) == 0);
  REQUIRE(Run("import " + (dir / "f.tif") + " " + (dir / "f.tif") + " --store " + store + " --spacing 1 1 1 --quiet", &out) == 0);
  REQUIRE(Run("import " + (dir / "f.tif") + " --store " + store + " --append --spacing 1 1 2 --quiet", &out) == 1);
  REQUIRE(out.find("op4d: error: " + store + ":/frames/volume: frame spacing") == 0);
  REQUIRE(Run("import " + (dir / "f.tif") + " --store " + store + " --quiet", &out) == 1);  // no --append
  REQUIRE(out.find("already exists") != std::string::npos);
  REQUIRE(Run("info " + store, &out) == 0);
  REQUIRE(out.find("frames: 2") != std::string::npos);
}

TEST_CASE("synth, info and export work together, and h5py reads the store without op4d", "[cli][h5py]") {
  op4d::test::TempDir dir;
  std::string out;
  for (const std::string codec : {"gzip", "blosc-zstd"}) {
    INFO(codec);
    const std::string store = dir / (codec + ".h5");
    REQUIRE(Run("synth --out " + store + " --frames 3 --shape 16 24 20 --spacing 0.8 0.5 0.5 --radius 2.5 --quiet --codec " + codec, &out) == 0);
    REQUIRE(Run("info " + store, &out) == 0);
    REQUIRE(out.find("frames: 3") != std::string::npos);
    REQUIRE(out.find("16x24x20 voxels (z,y,x), spacing (0.8, 0.5, 0.5) um") != std::string::npos);
    REQUIRE(Run("export " + store + " --frame 2 --out " + (dir / "f2.raw"), &out) == 0);
    REQUIRE(Run("export " + store + " --time-table --out " + (dir / "time.csv"), &out) == 0);
    const std::string py =
        "import h5py, numpy as np, sys\n"
        "f = h5py.File(sys.argv[1], 'r')\n"
        "v = f['frames/volume']\n"
        "raw = np.fromfile(sys.argv[2], dtype=v.dtype).reshape(v.shape[1:])\n"
        "assert v.shape == (3, 16, 24, 20), v.shape\n"
        "assert (v[2] == raw).all(), 'frame 2 differs'\n"
        "assert list(v.attrs['spacing_um']) == [0.8, 0.5, 0.5]\n"
        "assert f['time/time_s'].shape == (3,) and f['time/time_s'].attrs['unit'] == 's'\n"
        "print('h5py ok')\n";
    std::ofstream(dir / "check.py") << py;
    REQUIRE(op4d::test::RunCommand("/usr/bin/python3 " + (dir / "check.py") + " " + store + " " + (dir / "f2.raw"), &out) == 0);
    REQUIRE(out == "h5py ok\n");
  }
}

TEST_CASE("network on a labelled volume and on a store frame", "[cli][network]") {
  op4d::test::TempDir dir;
  std::string out;
  const std::string store = dir / "c.h5";
  REQUIRE(Run("synth --out " + store + " --frames 2 --shape 24 32 32 --quiet", &out) == 0);
  // The truth store holds phase labels (0 = pore); export one as a TIFF and analyse it as a volume.
  REQUIRE(Run("export " + (dir / "c.truth.h5") + " --frame 1 --out " + (dir / "labels.tif"), &out) == 0);
  REQUIRE(Run("network " + (dir / "labels.tif") + " --pore-value 0 --spacing 0.5 0.5 0.5 --out " + (dir / "net") + " --quiet", &out) == 0);
  INFO(out);
  REQUIRE(out.find("topology kept") != std::string::npos);
  REQUIRE(std::ifstream(dir / "net/labels.vtp").good());
  // The OpenPNM dictionary as h5py (and so OpenPNM) sees it.
  std::ofstream(dir / "pnm.py") << "import h5py, sys\n"
                                   "f = h5py.File(sys.argv[1], 'r')\n"
                                   "d = {k: f[k][()] for k in f}\n"
                                   "np_, nt = d['pore.coords'].shape[0], d['throat.conns'].shape[0]\n"
                                   "assert d['pore.coords'].shape == (np_, 3) and d['throat.conns'].shape == (nt, 2)\n"
                                   "assert d['throat.conns'].dtype.kind == 'i' and d['throat.conns'].max() < np_\n"
                                   "assert d['pore.xmin'].dtype == bool and d['throat.diameter'].shape == (nt,)\n"
                                   "assert f['pore.coords'].attrs['unit'] == 'm' and d['pore.coords'].max() < 1e-4\n"
                                   "print('openpnm keys ok', np_, nt)\n";
  REQUIRE(op4d::test::RunCommand("/usr/bin/python3 " + (dir / "pnm.py") + " " + (dir / "net/labels_openpnm.h5"), &out) == 0);
  REQUIRE(out.find("openpnm keys ok") == 0);
  REQUIRE(Run("network " + store + " --frames 1 --quiet", &out) == 0);
  REQUIRE(out.find("frame 1: ") == 0);
  REQUIRE(Run("info " + store, &out) == 0);
  REQUIRE(out.find("network_throats") != std::string::npos);
  REQUIRE(Run("network " + (dir / "labels.tif"), &out) == 2);
  REQUIRE(out == "op4d: error: --pore-value: a volume input must be a labelled volume: give --pore-value\n");
  REQUIRE(Run("network " + store + " --frames 3:1", &out) == 2);
  REQUIRE(out == "op4d: error: --frames: '3:1' is not a frame K or a range A:B with A < B\n");
}

TEST_CASE("tortuosity on a labelled volume and on store frames", "[cli][transport]") {
  op4d::test::TempDir dir;
  std::string out;
  const std::string store = dir / "c.h5";
  REQUIRE(Run("synth --out " + store + " --frames 2 --shape 24 32 32 --quiet", &out) == 0);
  REQUIRE(Run("export " + (dir / "c.truth.h5") + " --frame 1 --out " + (dir / "labels.tif"), &out) == 0);
  REQUIRE(Run("tortuosity " + (dir / "labels.tif") + " --value 0 --axes zx --out " + (dir / "t") + " --field --quiet", &out) == 0);
  INFO(out);
  REQUIRE(out.find("labels.tif: axis z  eps ") != std::string::npos);
  REQUIRE(out.find("labels.tif: axis x  eps ") != std::string::npos);
  REQUIRE(out.find("NOT CONVERGED") == std::string::npos);
  REQUIRE(std::ifstream(dir / "t/labels_tortuosity.csv").good());
  REQUIRE(std::ifstream(dir / "t/labels_c_x.vti").good());
  // Grey frames: segmented as the quick look does, the pore phase by default.
  REQUIRE(Run("tortuosity " + store + " --frames 1 --axes z --quiet", &out) == 0);
  REQUIRE(out.find("frame 1: axis z  eps ") == 0);
  REQUIRE(Run("info " + store, &out) == 0);
  REQUIRE(out.find("tortuosity") != std::string::npos);
  REQUIRE(Run("tortuosity " + (dir / "labels.tif"), &out) == 2);
  REQUIRE(out == "op4d: error: --value: a volume input must be a labelled volume: give --value\n");
  REQUIRE(Run("tortuosity " + store + " --field", &out) == 2);
  REQUIRE(out == "op4d: error: --field: needs --out DIR for the .vti files\n");
}

TEST_CASE("geometry on a labelled volume and on store frames", "[cli][geometry]") {
  op4d::test::TempDir dir;
  std::string out;
  const std::string store = dir / "c.h5";
  REQUIRE(Run("synth --out " + store + " --frames 2 --shape 24 32 32 --quiet", &out) == 0);
  REQUIRE(Run("export " + (dir / "c.truth.h5") + " --frame 0 --out " + (dir / "labels.tif"), &out) == 0);
  REQUIRE(Run("geometry " + (dir / "labels.tif") + " --gc 1 --tmax 1e6 --thickness pore --out " + (dir / "g") + " --quiet", &out) == 0);
  INFO(out);
  REQUIRE(out.find((dir / "labels.tif") + ": pore 0.") == 0);
  REQUIRE(out.find("a_s active|binder ") != std::string::npos);
  REQUIRE(out.find("local thickness of phase 0: median ") != std::string::npos);
  REQUIRE(out.find("local thickness of phase 1") == std::string::npos);  // --thickness pore only
  REQUIRE(std::ifstream(dir / "g/labels_interface_areas.csv").good());
  REQUIRE(std::ifstream(dir / "g/labels_particles.csv").good());
  REQUIRE(Run("geometry " + store + " --frames 1 --no-particles --quiet", &out) == 0);
  REQUIRE(out.find("frame 1: pore ") == 0);
  REQUIRE(Run("info " + store, &out) == 0);
  REQUIRE(out.find("interface_areas") != std::string::npos);
  REQUIRE(Run("geometry " + store + " --thickness electrolyte --quiet", &out) == 2);
  REQUIRE(out.find("op4d: error: thickness_phases: no phase named 'electrolyte'") == 0);
}

TEST_CASE("every pipeline in pipelines/ validates and runs on a small synthetic campaign", "[cli][run]") {
  // The synth step of a pipeline is skipped when the store exists, so each pipeline runs on this
  // small campaign (3 frames) instead of its own.
  for (const auto& entry : std::filesystem::directory_iterator(std::string(OP4D_SOURCE_DIR) + "/pipelines")) {
    if (entry.path().extension() != ".json") continue;
    op4d::test::TempDir dir;
    std::string out;
    const std::string store = dir / "c.h5";
    REQUIRE(Run("synth --out " + store + " --frames 3 --shape 24 32 32 --binder-neck 0 --quiet", &out) == 0);
    INFO(entry.path().string());
    REQUIRE(Run("run " + entry.path().string() + " --store " + store + " --quiet", &out) == 0);
    INFO(out);
    REQUIRE(out.find("pipeline_run written to " + store) != std::string::npos);
    REQUIRE(Run("info " + store, &out) == 0);
    REQUIRE(out.find("pipeline_run") != std::string::npos);
    REQUIRE(out.find("tortuosity") != std::string::npos);
  }
}

TEST_CASE("pipeline faults are one line naming the JSON pointer and the expected form", "[cli][run][errors]") {
  op4d::test::TempDir dir;
  std::string out;
  auto check = [&](const std::string& json, const std::string& want) {
    std::ofstream(dir / "p.json") << json;
    REQUIRE(Run("run " + (dir / "p.json") + " --store " + (dir / "c.h5"), &out) == 2);
    INFO(out);
    REQUIRE(out.find("op4d: error: " + (dir / "p.json") + ": " + want) == 0);
    REQUIRE(std::count(out.begin(), out.end(), '\n') == 1);
  };
  // A misspelled key, with the keys the step knows.
  check(R"({"steps": [{"step": "quicklook"}, {"step": "throats", "options": {"gama": 0.03}}]})",
        "/steps/1/options/gama: unknown key; expected one of: gamma, ");
  check(R"({"stepz": []})", "/stepz: unknown key; expected one of: ");
  // A wrong type and a value out of range.
  check(R"({"steps": [{"step": "tortuosity", "options": {"axes": 3}}]})", "/steps/0/options/axes: ");
  check(R"({"steps": [{"step": "throats", "options": {"gamma": -1}}]})", "/steps/0/options/gamma: ");
  check(R"({"steps": [{"step": "geometry", "options": {"gc": "high"}}]})", "/steps/0/options/gc: ");
  // An unknown step, a missing required option, and text that is not JSON.
  check(R"({"steps": [{"step": "tortuosty"}]})", "/steps/0/step: ");
  check(R"({"steps": [{"step": "throats", "options": {}}]})", "/steps/0/options");
  std::ofstream(dir / "p.json") << "{\"steps\": [";
  REQUIRE(Run("run " + (dir / "p.json") + " --store " + (dir / "c.h5"), &out) == 2);
  REQUIRE(out.find("not valid JSON") != std::string::npos);
  // Nothing ran: no store was created.
  REQUIRE_FALSE(std::filesystem::exists(dir / "c.h5"));
}
