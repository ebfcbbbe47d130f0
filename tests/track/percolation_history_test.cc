#include "op4d/track/throats/percolation_history.h"

#include <cmath>
#include <limits>

#include "op4d/core/error.h"
#include "test_util.h"

using namespace op4d;
using op4d::test::RequireClose;

namespace {

// gamma = 0.05 N/m, theta = 0: P_c = 1e5 Pa / r[um].
YoungLaplace Law(double r_min = 0.2) { return {0.05, 0.0, r_min}; }

// Inlet node 0, outlet node 2, two parallel paths: A = throats 0 (0-1), 1 (1-2); B = 2 (0-3), 3 (3-2).
ThroatGraph Diamond() {
  ThroatGraph g;
  g.nodes = 4;
  g.conns = {{0, 1}, {1, 2}, {0, 3}, {3, 2}};
  g.inlet = {1, 0, 0, 0};
  g.outlet = {0, 0, 1, 0};
  return g;
}

constexpr float kLost = std::numeric_limits<float>::quiet_NaN();

}  // namespace

TEST_CASE("the Young-Laplace rule: entry pressure and the open/closed test", "[track][throats]") {
  const YoungLaplace law = Law();
  RequireClose(EntryPressurePa(1.0, law), 1e5, 1e-12);
  RequireClose(EntryPressurePa(4.0, law), 2.5e4, 1e-12);
  RequireClose(EntryPressurePa(1.0, {0.05, 60.0, 0}), 5e4, 1e-12);   // |cos 60| = 1/2
  RequireClose(EntryPressurePa(1.0, {0.05, 180.0, 0}), 1e5, 1e-12);  // |cos 180| = 1
  REQUIRE(ThroatOpen(1.0, 1e5 * (1 - 1e-12), law));
  REQUIRE_FALSE(ThroatOpen(1.0, 1e5 * (1 + 1e-12), law));  // p_app < P_c
  REQUIRE_FALSE(ThroatOpen(0.2, 0.0, law));       // r > r_min, strictly
  REQUIRE(ThroatOpen(0.21, 0.0, law));
  REQUIRE_FALSE(ThroatOpen(std::nan(""), 0.0, law));  // not found: closed
  REQUIRE_THROWS_WITH(AnalysePercolationHistory(Diamond(), {}, {0.05, 190.0, 0}), Catch::Contains("contact_angle_deg"));
  REQUIRE_THROWS_WITH(AnalysePercolationHistory(Diamond(), {}, {0.0, 0.0, 0}), Catch::Contains("surface_tension_N_per_m"));
  REQUIRE_THROWS_WITH(AnalysePercolationHistory(Diamond(), {}, {0.05, 0.0, -1}), Catch::Contains("r_min_um"));
}

TEST_CASE("a scripted network: percolation fraction, reopen events, closures and critical pressures are exact", "[track][throats]") {
  // Uneven frame times: weights 5, 10, 20, 20, 25, 20 (sum 100 = t_last - t_first).
  ThroatSeries s;
  s.time_s = {0, 10, 20, 50, 60, 100};
  s.p_app_Pa = {1e4, 6e4, 1e4, 1e4, 1e4, 1e4};
  s.throats = 4;
  s.radius_um = {
      1, 1, 1, 1,          // 0: both paths open
      0.1f, 1, 1, 1,       // 1: throat 0 squeezed shut (r <= r_min), B carries (P_c 1e5 > 6e4)
      0.1f, 1, 0.1f, 1,    // 2: both paths cut
      1, 1, 0.1f, 1,       // 3: throat 0 reopens
      1, kLost, 0.1f, 1,   // 4: throat 1 not found (closed), B still cut
      2, 0.5f, 1, 4,       // 5: all open; path maximin: A min(5e4, 2e5), B min(1e5, 2.5e4)
  };
  const PercolationHistory h = AnalysePercolationHistory(Diamond(), s, Law());
  const std::vector<double> w = FrameWeights(s.time_s);
  REQUIRE(w == std::vector<double>{5, 10, 20, 20, 25, 20});
  const bool perc[] = {true, true, false, true, false, true};
  for (int k = 0; k < 6; ++k) {
    INFO("frame " << k);
    REQUIRE(h.frames[std::size_t(k)].percolates == perc[k]);
    // The critical pressure is the threshold: percolation iff p_app < critical.
    REQUIRE(perc[k] == (s.p_app_Pa[std::size_t(k)] < h.frames[std::size_t(k)].critical_pressure_Pa));
  }
  RequireClose(h.frames[0].critical_pressure_Pa, 1e5, 1e-12);
  REQUIRE(h.frames[2].critical_pressure_Pa == 0);
  RequireClose(h.frames[5].critical_pressure_Pa, 5e4, 1e-12);
  REQUIRE(h.frames[4].lost_throats == 1);
  REQUIRE(h.frames[2].open_throats == 2);
  REQUIRE(h.frames[2].inlet_nodes == 1);    // node 0 alone: throats 0 and 2 are shut
  REQUIRE(h.frames[2].cut_off_nodes == 3);
  REQUIRE(h.frames[0].spanning_nodes == 4);
  REQUIRE(h.frames[3].spanning_nodes == 4);  // node 3 hangs on the spanning cluster through throat 3
  REQUIRE(h.percolation_fraction == 0.55);   // (5 + 10 + 20 + 20) / 100
  REQUIRE(h.first_loss_time_s == 20);
  REQUIRE(h.ever_lost);
  REQUIRE(h.reopen_events == 3);
  // Throat 0: O C C O O O; throat 1: O O O O lost O; throat 2: O O C C C O; throat 3 always open.
  REQUIRE(h.throats[0].closures == 1);
  REQUIRE(h.throats[0].reopenings == 1);
  REQUIRE(h.throats[0].time_closed_s == 30);
  REQUIRE(h.throats[0].longest_closure_s == 30);
  REQUIRE(h.throats[1].frames_lost == 1);
  REQUIRE(h.throats[1].time_closed_s == 25);
  REQUIRE(h.throats[2].time_closed_s == 65);
  REQUIRE(h.throats[2].longest_closure_s == 65);
  REQUIRE(h.throats[3].closures == 0);
  REQUIRE(h.throats[3].time_closed_s == 0);
  REQUIRE(h.throats[2].open_at_start);
  REQUIRE(h.throats[2].open_at_end);
  // Tables carry the same numbers with units.
  REQUIRE(h.FrameTable().Find("critical_pressure_Pa")->unit == "Pa");
  REQUIRE(h.ThroatTable().Find("longest_closure_s")->values[2] == 65);
  REQUIRE(h.SummaryTable().Find("percolation_fraction")->values[0] == 0.55);
}

TEST_CASE("pressure alone closes throats: invasion in order of entry pressure", "[track][throats]") {
  // One path of three throats of radii 1, 2, 4 um: entry pressures 1e5, 5e4, 2.5e4 Pa; the path
  // breaks when p_app reaches the smallest (2.5e4), and a pressure cycle reopens it.
  ThroatGraph g;
  g.nodes = 4;
  g.conns = {{0, 1}, {1, 2}, {2, 3}};
  g.inlet = {1, 0, 0, 0};
  g.outlet = {0, 0, 0, 1};
  ThroatSeries s;
  s.time_s = {0, 1, 2, 3};
  s.p_app_Pa = {2e4, 2.5e4 * (1 + 1e-12), 6e4, 1e3};
  s.throats = 3;
  for (int k = 0; k < 4; ++k) s.radius_um.insert(s.radius_um.end(), {1, 2, 4});
  const PercolationHistory h = AnalysePercolationHistory(g, s, Law(0));
  REQUIRE(h.frames[0].percolates);
  REQUIRE_FALSE(h.frames[1].percolates);  // p just above P_c of the widest throat: invaded
  REQUIRE(h.frames[2].open_throats == 1);  // 6e4 > 5e4 and 2.5e4
  REQUIRE(h.frames[3].percolates);
  for (const FramePercolation& f : h.frames) RequireClose(f.critical_pressure_Pa, 2.5e4, 1e-12);
  REQUIRE(h.throats[2].reopenings == 1);
  REQUIRE(h.throats[1].reopenings == 1);
  REQUIRE(h.throats[0].reopenings == 0);
  RequireClose(h.percolation_fraction, (0.5 + 0.5) / 3.0, 1e-12);  // frames 0 and 3, half an interval each
  // A campaign that never loses percolation.
  s.p_app_Pa = {0, 0, 0, 0};
  const PercolationHistory never = AnalysePercolationHistory(g, s, Law(0));
  REQUIRE_FALSE(never.ever_lost);
  REQUIRE(std::isinf(never.first_loss_time_s));
  REQUIRE(never.percolation_fraction == 1.0);
}

TEST_CASE("bad throat series and logs are refused with the frame, throat or row named", "[track][throats][errors]") {
  ThroatSeries s;
  s.time_s = {0, 1};
  s.p_app_Pa = {0, std::nan("")};
  s.throats = 4;
  s.radius_um.assign(8, 1.0f);
  REQUIRE_THROWS_WITH(AnalysePercolationHistory(Diamond(), s, Law()), Catch::Contains("frame 1: p_app_Pa is missing"));
  s.p_app_Pa = {0, 0};
  s.radius_um[6] = -0.5f;
  REQUIRE_THROWS_WITH(AnalysePercolationHistory(Diamond(), s, Law()), Catch::Contains("frame 1, throat 2: negative radius"));
  s.radius_um.pop_back();
  REQUIRE_THROWS_WITH(AnalysePercolationHistory(Diamond(), s, Law()), Catch::Contains("7 radii for 2 frames x 4 throats"));
  s.radius_um.assign(8, 1.0f);
  s.time_s = {1, 1};
  REQUIRE_THROWS_WITH(AnalysePercolationHistory(Diamond(), s, Law()), Catch::Contains("frame times must increase"));
  // The log: linear between samples, refused outside its span or where a sample is missing.
  const std::vector<double> p = InterpolateLog({0, 10, 30}, {1e5, 2e5, 1e5}, {0, 5, 20, 30}, "p_app_Pa");
  REQUIRE(p == std::vector<double>{1e5, 1.5e5, 1.5e5, 1e5});
  REQUIRE_THROWS_WITH(InterpolateLog({0, 10}, {1e5, 2e5}, {11}, "p_app_Pa"), Catch::Contains("frame 0 at t = 11 s is outside the log"));
  REQUIRE_THROWS_WITH(InterpolateLog({0, 10}, {1e5, std::nan("")}, {5}, "p_app_Pa"),
                      Catch::Contains("p_app_Pa: no value at log row 1"));
  REQUIRE_THROWS_WITH(InterpolateLog({}, {}, {5}, "p_app_Pa"), Catch::Contains("the log is empty"));
}
