// op4d run: a declarative pipeline (pipelines/*.json, validated against schemas/pipeline.schema.json)
// executed step by step on one campaign store. Each step is the op4d command of the same name with
// the step's options as its command-line options, so a pipeline and the commands share one meaning.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace op4d::cli {

// The pipeline schema built into op4d (schemas/pipeline.schema.json).
const nlohmann::json& PipelineSchema();

// Validates a pipeline against the schema. Throws ConfigError("<source>: <JSON pointer>", what is
// expected) for the first fault: an unknown key, a wrong type, a value out of range.
void ValidatePipeline(const nlohmann::json& pipeline, const std::string& source);

// Validates any document against a JSON schema, unknown top-level keys refused: ConfigError("<source>:
// <JSON pointer>", what is expected) for the first fault (the pipeline's rules, for other input files).
void ValidateJson(const nlohmann::json& schema, const nlohmann::json& doc, const std::string& source);

// Reads and validates a pipeline file (IoError if unreadable, ConfigError naming the line for bad JSON).
nlohmann::json ReadPipeline(const std::string& path);

// The command line of one step: {"op4d", step, store-or-"--out store", options...}. Booleans true
// become flags, arrays of numbers several values, arrays of strings one comma-separated value.
// `frames` ("A:B" or "K", may be empty), `threads` (> 0) and `quiet` are added where the command takes
// them (the step's x-op4d-run list in the schema).
std::vector<std::string> StepArguments(const nlohmann::json& step, const std::string& store, const std::string& frames,
                                       int threads, bool quiet);

// How `op4d run` runs a pipeline on a store.
struct RunOptions {
  std::string pipeline_path;
  std::string store;
  std::string frames;    // "A:B" or "K": per-frame steps run on these frames only ("" = every frame)
  int threads = 0;       // > 0: passed to the steps that take --threads
  bool quiet = false;    // steps without progress bars; the runner still prints one line per unit
  bool force = false;    // redo the selected frames (and every series step) even if the journal has them
  std::string log_path;  // "" = <store>.log; the runner's lines, with UTC times, are appended to it
  bool follow = false;   // live follow: after a pass, wait for frames appended by an acquisition
  double idle_s = 60;    // follow: stop when no frame has arrived for this long
  double poll_s = 1;     // follow: how often the store is looked at
  std::string manifest;  // for an import step without its own manifest option (batch replay)
  bool no_series = false;  // per-frame steps only: a scale-out part (series steps run after MergeParts)
  int jobs = 1;            // > 1: frames in parallel, each job a child op4d on a copy of the store
  double memory_gb = 0;    // jobs' memory budget (0 = 80 % of MemAvailable); fewer jobs run if it is short
};

// Runs a step's command line (StepArguments) in this process; returns its exit status.
using StepDispatcher = std::function<int(const std::vector<std::string>&)>;

// Runs the pipeline: input steps (synth, import) first, then every analysis step in order.
//
// Resume: each unit of work (a per-frame step on one frame, or a series step) has a key, the FNV-1a
// hash of op4d's version, the step, its options and the identity of its input (the frame's provenance
// record and time row; for a series step, every frame's identity and the keys of the steps before it;
// op4d::Fnv1aHex).
// A unit is recorded in the journal <store>.journal (one line, flushed to disk) only after its command
// returned, so a run killed at any moment and started again redoes at most the unit that was running,
// and skips every unit whose key is in the journal (unless `force`). Per-frame steps run one frame at
// a time (register with strategy incremental runs as a series step). The run is recorded in the store
// as series table pipeline_run. Returns 0; throws for a failing step, naming the pipeline and step.
int RunPipeline(const RunOptions& options, const StepDispatcher& dispatch);

// A frame range "A:B" (frames A..B-1) or "K" as {A, B}; ConfigError("--frames") for anything else.
std::pair<std::int64_t, std::int64_t> FrameRange(const std::string& frames);

// Scale-out merge: each part is a copy of `target` on which `op4d run ... --frames A:B --no-series` ran
// (on another machine, or as one task of a scheduler array job). For every frame a part's journal
// records, that frame's results are copied into the target, the part's rows of series tables kept
// frame by frame (registration_series) are merged in, and the part's journal lines are added to the
// target's journal, so that `op4d run` on the target then skips the merged work and runs the series
// steps. A part whose frames are not the target's (other provenance or time row) is refused, naming
// the part and the frame; nothing is written before every part is checked. Returns the frames merged.
std::int64_t MergeParts(const std::string& target, const std::vector<std::string>& parts, bool quiet);

}  // namespace op4d::cli
