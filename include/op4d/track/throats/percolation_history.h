// Open/closed state of every pore throat through a campaign under the Young–Laplace law, percolation
// of the open network from the separator face to the current-collector face in every frame, and the
// percolation history (DESIGN.md: "Conventions that must not drift").
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "op4d/core/parallel.h"
#include "op4d/core/table.h"

namespace op4d {

// The capillary rule. Entry pressure of a throat of radius r: P_c = 2 γ |cos θ| / r. A throat is
// open for ion transport at time t_k when r(t_k) > r_min and p_app(t_k) < P_c(r(t_k)): it is not
// squeezed shut, and the applied gas pressure has not invaded it.
struct YoungLaplace {
  double surface_tension_N_per_m = 0.0;  // γ of the electrolyte, N/m (> 0)
  double contact_angle_deg = 0.0;        // θ of the electrolyte on the solid, degrees in [0, 180]
  double r_min_um = 0.0;                 // a throat this narrow or narrower is closed, µm (>= 0)
  // Throws ConfigError naming the value at fault (γ <= 0 or not finite, θ outside [0, 180], r_min < 0).
  void Validate() const;
};

// P_c in Pa for a radius in µm (+infinity for r = 0 with γ|cos θ| > 0).
double EntryPressurePa(double radius_um, const YoungLaplace& law);
// The open/closed rule, the one place it is written. A NaN radius (throat not found) is closed.
bool ThroatOpen(double radius_um, double p_app_Pa, const YoungLaplace& law);

// The network the throats belong to (from the reference frame): node count, throat end nodes, and
// which nodes lie on the separator face (inlet) and on the current-collector face (outlet).
struct ThroatGraph {
  std::int64_t nodes = 0;
  std::vector<std::pair<std::int32_t, std::int32_t>> conns;
  std::vector<std::uint8_t> inlet, outlet;  // per node, 0/1
};

// Radii of every throat in every frame: radius_um[k * throats + t], NaN where throat t was not found
// in frame k. Frame times increasing; p_app at each frame (interpolate the log first, see below).
struct ThroatSeries {
  std::vector<double> time_s;
  std::vector<double> p_app_Pa;
  std::int64_t throats = 0;
  std::vector<float> radius_um;
};

// Linear interpolation of a logged quantity (log_time_s increasing) at the frame times. Throws
// InvalidArgument naming `what` when the log is empty, holds a NaN, or does not cover a frame time.
std::vector<double> InterpolateLog(const std::vector<double>& log_time_s, const std::vector<double>& log_values,
                                   const std::vector<double>& frame_time_s, const std::string& what);

struct FramePercolation {
  double time_s = 0, p_app_Pa = 0;
  std::int64_t open_throats = 0;
  std::int64_t lost_throats = 0;        // radius NaN (not found in this frame): counted closed
  bool percolates = false;              // an open path joins an inlet node to an outlet node
  std::int64_t spanning_nodes = 0;      // nodes of the clusters touching both faces
  std::int64_t inlet_nodes = 0;         // nodes joined to the separator face by open throats
  std::int64_t cut_off_nodes = 0;       // nodes not joined to the separator face
  // The largest applied pressure at which the frame's radii still percolate (the maximin entry
  // pressure over inlet–outlet paths of throats wider than r_min): percolation holds for
  // p_app < critical. 0 when no path exists at any pressure.
  double critical_pressure_Pa = 0;
};

struct ThroatHistory {
  std::int32_t closures = 0;            // open at t_{k-1}, closed at t_k
  std::int32_t reopenings = 0;          // closed at t_{k-1}, open at t_k (reopen events)
  double time_closed_s = 0;             // time-weighted (see below)
  double longest_closure_s = 0;         // longest run of consecutive closed frames, time-weighted
  std::int32_t frames_lost = 0;         // frames where the throat was not found
  bool open_at_start = false, open_at_end = false;
};

// Time weighting: frame k stands for the interval from the midpoint with the previous frame to the
// midpoint with the next one (the first and last frames for half an interval), so the weights
// sum to t_last − t_first and uneven frame spacing is accounted for. A single frame has weight 0
// and the fractions are those of that frame.
std::vector<double> FrameWeights(const std::vector<double>& time_s);

struct PercolationHistory {
  std::vector<FramePercolation> frames;
  std::vector<ThroatHistory> throats;
  double percolation_fraction = 0;      // time-weighted share of the campaign that percolates
  std::int64_t reopen_events = 0;       // summed over throats
  double first_loss_time_s = 0;         // first frame time without percolation; +infinity if never lost
  bool ever_lost = false;

  // "throat_frames": one row per frame (time_s, p_app_Pa, open/lost throats, percolates, spanning,
  // inlet and cut-off nodes, critical_pressure_Pa). "throat_history": one row per throat.
  // "percolation_summary": one row.
  ResultTable FrameTable() const;
  ResultTable ThroatTable() const;
  ResultTable SummaryTable() const;
  // open[k * throats + t] = 1 when throat t is open in frame k.
  std::vector<std::uint8_t> open;
};

// Evaluates the rule for every throat in every frame, percolation per frame (union–find) and the
// history. Frames in parallel (TBB). Throws InvalidArgument naming the frame and throat for a
// negative radius, the frame for a NaN p_app, and mismatched sizes; ConfigError for the law.
PercolationHistory AnalysePercolationHistory(const ThroatGraph& graph, const ThroatSeries& series,
                                             const YoungLaplace& law, ThreadBudget threads = {});

}  // namespace op4d
