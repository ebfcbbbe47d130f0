#include "run.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <thread>
#include <tuple>

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "op4d/core/error.h"
#include "op4d/core/hash.h"
#include "op4d/core/table.h"
#include "op4d/core/version.h"
#include "op4d/pipeline/campaign.h"
#include "op4d/store/frame_store.h"

namespace op4d::cli {

extern const char* const kPipelineSchema;

namespace {

// valijson's context ("<root>", "[steps]", "[1]", ...) as a JSON pointer ("/steps/1").
std::string Pointer(const std::vector<std::string>& context, const std::string& prefix) {
  std::string p = prefix;
  for (const std::string& c : context) {
    if (c == "<root>") continue;
    std::string k = c;
    if (k.size() >= 2 && k.front() == '[' && k.back() == ']') k = k.substr(1, k.size() - 2);
    if (k.size() >= 2 && k.front() == '"' && k.back() == '"') k = k.substr(1, k.size() - 2);
    p += "/" + k;
  }
  return p.empty() ? "/" : p;
}

// What a schema accepts, in words: "a number > 0 (Surface tension ..., N/m)", "one of z, y".
std::string ExpectedForm(const nlohmann::json& schema) {
  std::string f;
  if (schema.contains("enum")) {
    for (const auto& v : schema["enum"]) f += (f.empty() ? "one of " : ", ") + (v.is_string() ? v.get<std::string>() : v.dump());
  } else if (schema.contains("type")) {
    static const std::map<std::string, std::string> kName{{"number", "a number"}, {"integer", "an integer"}, {"string", "a string"},
                                                          {"boolean", "true or false"}, {"array", "an array"}, {"object", "an object"}};
    const std::string t = schema["type"].get<std::string>();
    f = kName.count(t) ? kName.at(t) : t;
    if (t == "array" && schema.contains("minItems") && schema.contains("maxItems") && schema["minItems"] == schema["maxItems"])
      f = "an array of " + schema["minItems"].dump() + (schema.contains("items") ? " " + ExpectedForm(schema["items"]).substr(2) + "s" : " values");
  }
  if (schema.contains("pattern")) f += " matching " + schema["pattern"].get<std::string>();
  if (schema.contains("minimum")) f += " >= " + schema["minimum"].dump();
  if (schema.contains("exclusiveMinimum")) f += " > " + schema["exclusiveMinimum"].dump();
  if (schema.contains("maximum")) f += " <= " + schema["maximum"].dump();
  if (schema.contains("exclusiveMaximum")) f += " < " + schema["exclusiveMaximum"].dump();
  if (schema.contains("required")) {
    std::string r;
    for (const auto& k : schema["required"]) r += (r.empty() ? "" : ", ") + k.get<std::string>();
    f += (f.empty() ? "" : " ") + std::string("with ") + r;
  }
  if (schema.contains("description") && !schema.contains("properties")) f += " (" + schema["description"].get<std::string>() + ")";
  return f;
}

// The sub-schema a valijson context points at (properties of objects, items of arrays).
const nlohmann::json& SchemaAt(const nlohmann::json& schema, const std::vector<std::string>& context) {
  const nlohmann::json* at = &schema;
  for (const std::string& c : context) {
    if (c == "<root>") continue;
    std::string k = c.size() >= 2 ? c.substr(1, c.size() - 2) : c;
    if (k.size() >= 2 && k.front() == '"') k = k.substr(1, k.size() - 2);
    if (at->contains("properties") && (*at)["properties"].contains(k)) at = &(*at)["properties"][k];
    else if (at->contains("items")) at = &(*at)["items"];
    else break;
  }
  return *at;
}

// Validates `doc` against `schema`; throws for the first error with its pointer (under `prefix`).
void Validate(const nlohmann::json& schema_doc, const nlohmann::json& doc, const std::string& source, const std::string& prefix) {
  valijson::Schema schema;
  valijson::SchemaParser parser;
  valijson::adapters::NlohmannJsonAdapter schema_adapter(schema_doc);
  parser.populateSchema(schema_adapter, schema);
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter doc_adapter(doc);
  if (validator.validate(schema, doc_adapter, &results)) return;
  // The deepest error names the fault most precisely (an unknown key rather than "object invalid").
  valijson::ValidationResults::Error e, deepest;
  while (results.popError(e))
    if (e.context.size() > deepest.context.size()) deepest = e;
  std::string what = deepest.description;
  if (!what.empty() && what.back() == '.') what.pop_back();
  const std::string expected = ExpectedForm(SchemaAt(schema_doc, deepest.context));
  if (!expected.empty()) what += "; expected " + expected;
  throw ConfigError(source + ": " + Pointer(deepest.context, prefix), what);
}

// The keys of `object` not among the properties of `schema` (valijson reports only that some are).
void RefuseUnknownKeys(const nlohmann::json& schema, const nlohmann::json& object, const std::string& source,
                       const std::string& pointer) {
  if (!object.is_object() || !schema.contains("properties")) return;
  for (auto it = object.begin(); it != object.end(); ++it)
    if (!schema["properties"].contains(it.key())) {
      std::string known;
      for (auto p = schema["properties"].begin(); p != schema["properties"].end(); ++p) known += (known.empty() ? "" : ", ") + p.key();
      throw ConfigError(source + ": " + pointer + "/" + it.key(), "unknown key; expected one of: " + known);
    }
}

std::string Number(const nlohmann::json& v) {
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v.get<double>());  // 0.03, not 0.029999999999999999
  if (std::strtod(buf, nullptr) != v.get<double>()) std::snprintf(buf, sizeof buf, "%.17g", v.get<double>());
  return buf;
}

}  // namespace

void ValidateJson(const nlohmann::json& schema, const nlohmann::json& doc, const std::string& source) {
  RefuseUnknownKeys(schema, doc, source, "");
  Validate(schema, doc, source, "");
}

const nlohmann::json& PipelineSchema() {
  static const nlohmann::json schema = nlohmann::json::parse(kPipelineSchema);  // parsed once, not per unit
  return schema;
}

void ValidatePipeline(const nlohmann::json& pipeline, const std::string& source) {
  const nlohmann::json& schema = PipelineSchema();
  RefuseUnknownKeys(schema, pipeline, source, "");
  if (pipeline.contains("steps") && pipeline["steps"].is_array())
    for (std::size_t i = 0; i < pipeline["steps"].size(); ++i)
      RefuseUnknownKeys(schema["properties"]["steps"]["items"], pipeline["steps"][i], source, "/steps/" + std::to_string(i));
  Validate(schema, pipeline, source, "");
  // Each step's options against its definition, with pointers into the pipeline.
  for (std::size_t i = 0; i < pipeline["steps"].size(); ++i) {
    const nlohmann::json& step = pipeline["steps"][i];
    if (!step.contains("options")) continue;
    const nlohmann::json& def = schema["definitions"][step["step"].get<std::string>()];
    const std::string pointer = "/steps/" + std::to_string(i) + "/options";
    RefuseUnknownKeys(def, step["options"], source, pointer);
    Validate(def, step["options"], source, pointer);
  }
}

nlohmann::json ReadPipeline(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(path, "", "cannot read the pipeline file");
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw ConfigError(path, std::string("not valid JSON: ") + e.what());
  }
  ValidatePipeline(j, path);
  return j;
}

std::vector<std::string> StepArguments(const nlohmann::json& step, const std::string& store, const std::string& frames,
                                       int threads, bool quiet) {
  const std::string name = step["step"].get<std::string>();
  // The run-level options this step's command takes, from the schema (x-op4d-run).
  std::set<std::string> takes;
  for (const auto& t : PipelineSchema().at("definitions").at(name).value("x-op4d-run", nlohmann::json::array())) takes.insert(t.get<std::string>());
  std::vector<std::string> args{"op4d", name};
  if (name == "synth") {
    args.insert(args.end(), {"--out", store});
  } else if (name == "import") {
    args.insert(args.end(), {"--store", store, "--resume"});
  } else {
    args.push_back(store);
  }
  if (name == "report" && !(step.contains("options") && step["options"].contains("out"))) {
    // Default: beside the store, "<store without .h5>_report".
    std::string stem = store;
    if (stem.size() > 3 && stem.compare(stem.size() - 3, 3, ".h5") == 0) stem.resize(stem.size() - 3);
    args.insert(args.end(), {"--out", stem + "_report"});
  }
  if (step.contains("options"))
    for (auto it = step["options"].begin(); it != step["options"].end(); ++it) {
      const nlohmann::json& v = it.value();
      const std::string flag = "--" + it.key();
      if (v.is_boolean()) {
        if (v.get<bool>()) args.push_back(flag);
      } else if (v.is_number()) {
        args.insert(args.end(), {flag, Number(v)});
      } else if (v.is_string()) {
        args.insert(args.end(), {flag, v.get<std::string>()});
      } else if (v.is_array() && !v.empty() && v[0].is_string()) {
        std::string joined;
        for (const auto& e : v) joined += (joined.empty() ? "" : ",") + e.get<std::string>();
        args.insert(args.end(), {flag, joined});
      } else if (v.is_array()) {
        args.push_back(flag);
        for (const auto& e : v) args.push_back(Number(e));
      }
    }
  if (!frames.empty() && takes.count("frames")) args.insert(args.end(), {"--frames", frames});
  if (threads > 0 && takes.count("threads")) args.insert(args.end(), {"--threads", std::to_string(threads)});
  if (quiet && takes.count("quiet")) args.push_back("--quiet");
  return args;
}

}  // namespace op4d::cli

namespace op4d::cli {

namespace {

std::string Duration(double s) {
  char buf[32];
  if (!std::isfinite(s)) return "?";
  if (s < 90) std::snprintf(buf, sizeof buf, "%.1f s", s);
  else if (s < 5400) std::snprintf(buf, sizeof buf, "%.1f min", s / 60);
  else std::snprintf(buf, sizeof buf, "%.1f h", s / 3600);
  return buf;
}

std::string Gigabytes(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GB", bytes / 1e9);
  return buf;
}

// The runner's lines: to stdout and, with the UTC time, appended to the log file.
class RunLog {
 public:
  explicit RunLog(const std::string& path) : path_(path), out_(path, std::ios::app) {
    if (!out_) throw IoError(path, "", "cannot open the run log for appending");
  }
  void operator()(const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    out_ << UtcNow() << "  " << line << "\n";
    out_.flush();
  }

 private:
  std::string path_;
  std::ofstream out_;
};

// Append-only record of finished units ("<key> <step> <frame>" per line), each line on disk
// (fdatasync) before the next unit starts. A line cut short by a kill is ignored.
class Journal {
 public:
  struct Entry {
    std::string key, step;
    std::int64_t frame = -1;  // -1: a series step
  };

  // The complete lines of a journal (none if it does not exist); reads only.
  static std::vector<Entry> Read(const std::string& path, bool* complete = nullptr) {
    std::vector<Entry> entries;
    std::ifstream in(path);
    std::stringstream ss;
    if (in) ss << in.rdbuf();
    std::string text = ss.str();
    const bool ends = text.empty() || text.back() == '\n';
    if (complete) *complete = ends;
    if (!ends) text.resize(text.find_last_of('\n') == std::string::npos ? 0 : text.find_last_of('\n') + 1);
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (!(line.size() > 17 && line[16] == ' ' && line.find_first_not_of("0123456789abcdef") == 16)) continue;
      std::istringstream fields(line);
      Entry e;
      std::string frame;
      if (!(fields >> e.key >> e.step >> frame)) continue;
      e.frame = frame == "series" ? -1 : std::atoll(frame.c_str());
      entries.push_back(e);
    }
    return entries;
  }

  explicit Journal(const std::string& path) : path_(path) {
    bool complete = true;
    for (const Entry& e : Read(path, &complete)) keys_.insert(e.key);
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw IoError(path, "", "cannot open the run journal for appending");
    if (!complete) Write("\n");  // end the line a killed run left unfinished
  }
  ~Journal() {
    if (fd_ >= 0) ::close(fd_);
  }
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  bool Has(const std::string& key) const { return keys_.count(key) > 0; }
  void Record(const std::string& key, const std::string& step, std::int64_t frame) {
    Write(key + " " + step + " " + (frame < 0 ? std::string("series") : std::to_string(frame)) + "\n");
    if (::fdatasync(fd_) != 0) throw IoError(path_, "", "cannot sync the run journal");
    keys_.insert(key);
  }

 private:
  void Write(const std::string& text) {
    if (::write(fd_, text.data(), text.size()) != ssize_t(text.size())) throw IoError(path_, "", "cannot write the run journal");
  }
  std::string path_;
  int fd_ = -1;
  std::set<std::string> keys_;
};

// What a frame is, for the keys: its provenance record (source, options, time of append) and its
// time-table row. A frame imported again, or a store written anew, has another identity.
std::vector<std::string> FrameIdentities(const FrameStore& store) {
  const TimeTable tt = store.ReadTimeTable();
  std::vector<std::string> ids;
  for (std::int64_t k = 0; k < store.frame_count(); ++k) {
    std::string text = store.ReadFrameProvenance(k);
    for (std::size_t c = 0; c < tt.columns.size(); ++c) text += "|" + tt.columns[c].name + "=" + Number(tt.values[c][std::size_t(k)]);
    ids.push_back(Fnv1aHex(text));
  }
  return ids;
}

// One unit of work: a per-frame step on one frame, or a series step (frame -1).
struct Unit {
  std::size_t step = 0;
  std::int64_t frame = -1;
  std::string key;
  bool skip = false;
};

bool IsInputStep(const std::string& name) { return name == "synth" || name == "import"; }

// A step that runs frame by frame: its command takes --frames, and its result for frame k does not
// depend on the frames before k (register's incremental strategy does).
bool IsPerFrame(const nlohmann::json& step) {
  const std::string name = step["step"].get<std::string>();
  bool takes = false;
  for (const auto& t : PipelineSchema().at("definitions").at(name).value("x-op4d-run", nlohmann::json::array())) takes |= t == "frames";
  const nlohmann::json options = step.value("options", nlohmann::json::object());
  if (name == "register" && options.value("strategy", "total") == "incremental") return false;
  return takes;
}

std::vector<std::int64_t> SelectedFrames(const std::string& frames, std::int64_t count) {
  std::vector<std::int64_t> out;
  std::int64_t lo = 0, hi = count;
  if (!frames.empty()) std::tie(lo, hi) = FrameRange(frames);
  for (std::int64_t k = lo; k < std::min(hi, count); ++k) out.push_back(k);
  return out;
}

class Runner {
 public:
  Runner(const RunOptions& o, const StepDispatcher& dispatch)
      : o_(o), dispatch_(dispatch), pipeline_(ReadPipeline(o.pipeline_path)),
        log_(o.log_path.empty() ? o.store + ".log" : o.log_path), journal_(std::make_unique<Journal>(o.store + ".journal")) {
    name_ = pipeline_.value("name", std::filesystem::path(o.pipeline_path).stem().string());
    bool analysis = false;
    for (std::size_t i = 0; i < steps().size(); ++i) {
      const std::string s = steps()[i]["step"].get<std::string>();
      if (IsInputStep(s) && analysis)
        throw ConfigError(o.pipeline_path + ": /steps/" + std::to_string(i), "input step '" + s + "' after an analysis step; put synth and import first");
      analysis |= !IsInputStep(s);
    }
    record_ = ResultTable{"pipeline_run", {{"step", "1", {}}, {"frame", "1", {}}, {"seconds", "s", {}}, {"skipped", "1", {}}}};
  }

  void Run() {
    log_("pipeline " + name_ + ": " + std::to_string(steps().size()) + " steps on " + o_.store + " (journal " + o_.store +
         ".journal" + (o_.force ? ", --force" : "") + ")");
    // A writer killed in an earlier run leaves the file marked as open for writing, which readers
    // refuse: opening it once for writing recovers it (FrameStore::OpenReadWrite).
    if (std::filesystem::exists(o_.store)) FrameStore::OpenReadWrite(o_.store).Close();
    RunInputSteps();
    MergeLeftoverParts();
    std::int64_t seen = FrameStore::OpenRead(o_.store).frame_count();
    RunAnalysis();
    while (o_.follow) {
      log_("follow: " + std::to_string(seen) + " frames processed; waiting up to " + Duration(o_.idle_s) + " for more");
      const auto t0 = std::chrono::steady_clock::now();
      std::int64_t now = seen;
      while (now == seen && std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < o_.idle_s) {
        std::this_thread::sleep_for(std::chrono::duration<double>(o_.poll_s));
        now = FrameStore::OpenRead(o_.store).frame_count();
      }
      if (now == seen) {
        log_("follow: no new frame for " + Duration(o_.idle_s) + "; stopping");
        break;
      }
      log_("follow: " + std::to_string(now - seen) + " new frame(s)");
      seen = now;
      RunAnalysis();
    }
    WriteRecord();
    log_("pipeline " + name_ + ": done; " + std::to_string(ran_) + " units run, " + std::to_string(skipped_) +
         " already done (series table pipeline_run in " + o_.store + ")");
  }

 private:
  const nlohmann::json& steps() const { return pipeline_["steps"]; }

  std::string Tag(std::size_t i) const {
    return "[" + std::to_string(i + 1) + "/" + std::to_string(steps().size()) + " " + steps()[i]["step"].get<std::string>() + "]";
  }

  void RunInputSteps() {
    for (std::size_t i = 0; i < steps().size(); ++i) {
      const nlohmann::json& step = steps()[i];
      const std::string name = step["step"].get<std::string>();
      if (!IsInputStep(name)) break;
      if (name == "synth" && FrameStore::IsCampaignStore(o_.store)) {
        log_(Tag(i) + " " + o_.store + " exists, skipped");
        Record(i, -1, 0, true);
        continue;
      }
      nlohmann::json s = step;
      if (name == "import" && !s.value("options", nlohmann::json::object()).contains("manifest")) {
        if (o_.manifest.empty())
          throw ConfigError(o_.pipeline_path + ": /steps/" + std::to_string(i) + "/options/manifest",
                            "no manifest; give it here or with op4d run --manifest FILE");
        s["options"]["manifest"] = o_.manifest;
      }
      Execute(i, s, "", -1);
    }
  }

  // Plans every analysis unit (keys from the frames stored now), then runs those not done.
  // Every analysis unit, with its key, from the frames stored now; `frames` receives the frames selected.
  std::vector<Unit> Plan(std::vector<std::int64_t>& frames) {
    std::vector<std::string> ids;
    {  // closed before the steps open the store for writing
      const FrameStore store = FrameStore::OpenRead(o_.store);
      ids = FrameIdentities(store);
      frames = SelectedFrames(o_.frames, store.frame_count());
    }
    if (frames.empty())
      throw ConfigError("--frames", "'" + o_.frames + "' selects no frame of " + o_.store + " (" + std::to_string(ids.size()) + " frames)");
    std::vector<Unit> plan;
    std::string chain = Version();
    for (std::size_t i = 0; i < steps().size(); ++i) {
      const nlohmann::json& step = steps()[i];
      const std::string name = step["step"].get<std::string>();
      if (IsInputStep(name)) continue;
      const std::string base = std::string(Version()) + "|" + name + "|" + step.value("options", nlohmann::json::object()).dump();
      std::string keys;
      if (IsPerFrame(step)) {
        // A step with a reference frame (register) depends on that frame too.
        const nlohmann::json opts = step.value("options", nlohmann::json::object());
        std::string reference;
        if (PipelineSchema().at("definitions").at(name).at("properties").contains("reference")) {
          const std::int64_t r = opts.value("reference", std::int64_t(0));
          reference = r < std::int64_t(ids.size()) ? ids[std::size_t(r)] : "missing";
        }
        for (std::int64_t k : frames) {
          Unit u{i, k, Fnv1aHex(base + "|frame|" + ids[std::size_t(k)] + "|" + reference)};
          u.skip = !o_.force && journal_->Has(u.key);
          keys += u.key;
          plan.push_back(u);
        }
      } else {
        if (o_.no_series) continue;
        std::string all;
        for (const std::string& id : ids) all += id;
        all += "|" + o_.frames;
        Unit u{i, -1, Fnv1aHex(base + "|series|" + all + "|" + chain)};
        u.skip = !o_.force && journal_->Has(u.key);
        keys += u.key;
        plan.push_back(u);
      }
      chain = Fnv1aHex(chain + keys);
    }
    return plan;
  }

  void RunAnalysis() {
    std::vector<std::int64_t> frames;
    std::vector<Unit> plan = Plan(frames);
    if (o_.jobs > 1 && RunFrameJobs(plan)) plan = Plan(frames);  // the jobs' work is merged: plan again
    std::size_t todo = 0;
    for (const Unit& u : plan) todo += u.skip ? 0 : 1;
    log_("plan: " + std::to_string(plan.size()) + " units on " + std::to_string(frames.size()) + " frames, " + std::to_string(todo) +
         " to run, " + std::to_string(plan.size() - todo) + " already done");
    // ETA: a step's remaining units at that step's mean time, or the mean of every unit run so far.
    std::map<std::size_t, std::pair<double, int>> per_step;
    double total_s = 0;
    int total_n = 0;
    std::size_t left = todo;
    for (std::size_t n = 0; n < plan.size(); ++n) {
      const Unit& u = plan[n];
      const std::string where = u.frame < 0 ? "series" : "frame " + std::to_string(u.frame);
      if (u.skip) {
        log_(Tag(u.step) + " " + where + ": done before (key " + u.key + "), skipped");
        Record(u.step, u.frame, 0, true);
        ++skipped_;
        continue;
      }
      const double secs = Execute(u.step, steps()[u.step], u.frame < 0 ? o_.frames : std::to_string(u.frame), u.frame);
      journal_->Record(u.key, steps()[u.step]["step"].get<std::string>(), u.frame);
      per_step[u.step].first += secs;
      per_step[u.step].second += 1;
      total_s += secs;
      total_n += 1;
      --left;
      double step_eta = 0, eta = 0;
      for (std::size_t m = n + 1; m < plan.size(); ++m) {
        if (plan[m].skip) continue;
        const auto it = per_step.find(plan[m].step);
        const double each = it != per_step.end() ? it->second.first / it->second.second : total_s / total_n;
        eta += each;
        if (plan[m].step == u.step) step_eta += each;
      }
      log_(Tag(u.step) + " " + where + ": " + Duration(secs) + " (" + std::to_string(todo - left) + "/" + std::to_string(todo) +
           "); step ETA " + Duration(step_eta) + ", overall ETA " + Duration(eta));
    }
  }

  std::string PartPath(int j) const { return o_.store + ".job" + std::to_string(j) + ".h5"; }

  // Merges the parts a killed run of --jobs left behind (their finished work is kept), then removes them.
  void MergeLeftoverParts() {
    for (int j = 0; j < 1024; ++j) {
      const std::string part = PartPath(j);
      if (!std::filesystem::exists(part)) continue;
      try {
        if (std::filesystem::exists(part + ".journal")) {
          const std::int64_t n = MergeParts(o_.store, {part}, true);
          log_("jobs: merged " + std::to_string(n) + " frames left by an interrupted job in " + part);
        }
      } catch (const std::exception& e) {
        log_("jobs: " + part + " left by an interrupted job is not merged (" + e.what() + "); its frames run again");
      }
      for (const std::string& f : {part, part + ".journal", part + ".log", part + ".out"}) std::filesystem::remove(f);
    }
    journal_ = std::make_unique<Journal>(o_.store + ".journal");
  }

  // Frame parallelism: the frames with per-frame work left are split into contiguous ranges, each run
  // by a child `op4d run --no-series` on its own copy of the store (a part), as many at a time as the
  // memory budget allows; the parts are then merged (MergeParts). Returns false if it ran nothing.
  bool RunFrameJobs(const std::vector<Unit>& plan) {
    std::set<std::int64_t> todo_frames;
    for (const Unit& u : plan)
      if (!u.skip && u.frame >= 0) todo_frames.insert(u.frame);
    if (todo_frames.size() < 2) return false;
    // Memory: a frame job needs about kJobBytesPerVoxel per voxel of a frame (bench/RESULTS.md).
    constexpr double kJobBytesPerVoxel = 100;  // operando pipeline, 256^3 uint16: 1.61 GB peak RSS (96 B/voxel)
    double voxels = 0, available = 0;
    {
      const FrameStore store = FrameStore::OpenRead(o_.store);
      voxels = double(store.layout()->geometry.voxel_count());
    }
    std::ifstream meminfo("/proc/meminfo");
    for (std::string key; meminfo >> key;) {
      double kb = 0;
      meminfo >> kb;
      if (key == "MemAvailable:") available = kb * 1024;
      meminfo.ignore(64, '\n');
    }
    const double budget = o_.memory_gb > 0 ? o_.memory_gb * 1e9 : 0.8 * available;
    const double per_job = kJobBytesPerVoxel * voxels;
    int jobs = std::min<int>(o_.jobs, int(todo_frames.size()));
    jobs = std::max(1, std::min(jobs, int(budget / per_job)));
    log_("jobs: " + std::to_string(jobs) + " at a time for " + std::to_string(todo_frames.size()) + " frames (memory budget " +
         Gigabytes(budget) + ", about " + Gigabytes(per_job) + " per frame job)");
    if (jobs < 2) return false;
    const std::vector<std::int64_t> frames(todo_frames.begin(), todo_frames.end());
    const int threads = o_.threads > 0 ? o_.threads : std::max(1, int(std::thread::hardware_concurrency()) / jobs);
    struct Job {
      std::string part, range;
      pid_t pid = -1;
      std::size_t units = 0;
    };
    std::vector<Job> list;
    for (int j = 0; j < jobs; ++j) {
      const std::size_t a = frames.size() * std::size_t(j) / std::size_t(jobs), b = frames.size() * std::size_t(j + 1) / std::size_t(jobs);
      if (a == b) continue;
      Job job{PartPath(j), std::to_string(frames[a]) + ":" + std::to_string(frames[b - 1] + 1)};
      for (const Unit& u : plan)
        if (!u.skip && u.frame >= frames[a] && u.frame <= frames[b - 1]) ++job.units;
      std::filesystem::copy_file(o_.store, job.part, std::filesystem::copy_options::overwrite_existing);
      std::filesystem::copy_file(o_.store + ".journal", job.part + ".journal", std::filesystem::copy_options::overwrite_existing);
      std::filesystem::remove(job.part + ".log");
      std::vector<std::string> args{"op4d", "run", o_.pipeline_path, "--store", job.part, "--frames", job.range, "--no-series",
                                    "--threads", std::to_string(threads), "--quiet"};
      job.pid = ::fork();
      if (job.pid < 0) throw IoError(o_.store, "", "cannot start a frame job");
      if (job.pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a job does not outlive the run
        const int out = ::open((job.part + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out >= 0) ::dup2(out, 1), ::dup2(out, 2);
        std::vector<char*> argv;
        for (std::string& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv("/proc/self/exe", argv.data());
        ::_exit(127);
      }
      log_("jobs: frames " + job.range + " (" + std::to_string(job.units) + " units) in " + job.part + ", " + std::to_string(threads) +
           " threads");
      list.push_back(job);
    }
    // Progress: the units the jobs' journals gained.
    std::size_t total = 0;
    for (const Job& j : list) total += j.units;
    const std::size_t start_lines = Journal::Read(o_.store + ".journal").size();
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t reported = 0;
    std::string failed;
    for (std::size_t running = list.size(); running > 0;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      for (Job& j : list) {
        if (j.pid < 0) continue;
        int status = 0;
        if (::waitpid(j.pid, &status, WNOHANG) == j.pid) {
          j.pid = -1;
          --running;
          if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed += (failed.empty() ? "" : ", ") + j.part + ".out";
        }
      }
      std::size_t done = 0;
      for (const Job& j : list) done += Journal::Read(j.part + ".journal").size() - start_lines;
      if (done != reported) {
        reported = done;
        const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        log_("jobs: " + std::to_string(done) + "/" + std::to_string(total) + " units done, " + Duration(el) + "; overall ETA " +
             Duration(done ? el / double(done) * double(total - done) : NAN));
      }
    }
    // Merge what finished (a failed job's finished frames too), then report the failure.
    for (const Job& j : list) {
      const std::int64_t n = MergeParts(o_.store, {j.part}, true);
      log_("jobs: merged " + std::to_string(n) + " frames of " + j.part);
    }
    if (!failed.empty()) throw IoError(failed, "", "a frame job failed (its output is in this file); the finished frames were kept");
    for (const Job& j : list)
      for (const std::string& f : {j.part, j.part + ".journal", j.part + ".log", j.part + ".out"}) std::filesystem::remove(f);
    journal_ = std::make_unique<Journal>(o_.store + ".journal");
    return true;
  }

  // Runs one step's command; returns its wall time.
  double Execute(std::size_t i, const nlohmann::json& step, const std::string& frames, std::int64_t frame) {
    const std::vector<std::string> args = StepArguments(step, o_.store, frames, o_.threads, o_.quiet);
    std::string line;
    for (std::size_t k = 1; k < args.size(); ++k) line += (k > 1 ? " " : "") + args[k];
    log_(Tag(i) + " op4d " + line);
    const auto t0 = std::chrono::steady_clock::now();
    int rc = 0;
    try {
      rc = dispatch_(args);
    } catch (const ConfigError& e) {
      log_(Tag(i) + " failed: " + e.what());
      throw ConfigError(o_.pipeline_path + ": /steps/" + std::to_string(i) + " (" + step["step"].get<std::string>() + ")", e.what());
    } catch (const std::exception& e) {
      log_(Tag(i) + " failed: " + e.what());
      throw;
    }
    if (rc != 0) {
      log_(Tag(i) + " failed with exit status " + std::to_string(rc));
      throw InvalidArgument(o_.pipeline_path + ": step " + std::to_string(i) + " (" + step["step"].get<std::string>() +
                            ") exited with status " + std::to_string(rc));
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (frame < 0 && IsInputStep(step["step"].get<std::string>())) log_(Tag(i) + " done in " + Duration(secs));
    Record(i, frame, secs, false);
    ++ran_;
    return secs;
  }

  void Record(std::size_t step, std::int64_t frame, double secs, bool skipped) {
    record_.columns[0].values.push_back(double(step));
    record_.columns[1].values.push_back(frame < 0 ? NAN : double(frame));
    record_.columns[2].values.push_back(secs);
    record_.columns[3].values.push_back(skipped ? 1 : 0);
  }

  void WriteRecord() {
    nlohmann::json effective = pipeline_;
    effective["store"] = o_.store;
    if (!o_.frames.empty()) effective["frames"] = o_.frames;
    if (o_.threads > 0) effective["threads"] = o_.threads;
    if (o_.force) effective["force"] = true;
    if (!o_.manifest.empty()) effective["manifest"] = o_.manifest;
    FrameStore fs = FrameStore::OpenReadWrite(o_.store);
    fs.WriteSeriesTable(record_, Provenance{"run", o_.pipeline_path, effective.dump(), Fnv1aHex(pipeline_.dump())});
  }

  RunOptions o_;
  StepDispatcher dispatch_;
  nlohmann::json pipeline_;
  std::string name_;
  RunLog log_;
  std::unique_ptr<Journal> journal_;
  ResultTable record_;
  std::int64_t ran_ = 0, skipped_ = 0;
};

}  // namespace

std::int64_t MergeParts(const std::string& target, const std::vector<std::string>& parts, bool quiet) {
  if (parts.empty()) throw ConfigError("PART.h5", "give at least one part store to merge");
  FrameStore::OpenReadWrite(target).Close();  // recovers a target whose writer was killed
  std::vector<std::string> target_ids;
  {
    const FrameStore t = FrameStore::OpenRead(target);
    target_ids = FrameIdentities(t);
  }
  // Check every part first: its journal, and its frames against the target's.
  struct Part {
    std::string path;
    std::vector<Journal::Entry> units;  // per-frame units
    std::set<std::int64_t> frames;
  };
  std::vector<Part> checked;
  for (const std::string& path : parts) {
    if (path == target) throw ConfigError(path, "is the target itself");
    if (!std::filesystem::exists(path + ".journal")) throw IoError(path + ".journal", "", "no run journal: was op4d run ... --no-series run on this part?");
    FrameStore::OpenReadWrite(path).Close();
    Part p{path, {}, {}};
    for (const Journal::Entry& e : Journal::Read(path + ".journal"))
      if (e.frame >= 0) p.units.push_back(e), p.frames.insert(e.frame);
    const FrameStore part = FrameStore::OpenRead(path);
    const std::vector<std::string> ids = FrameIdentities(part);
    for (std::int64_t k : p.frames) {
      if (k >= std::int64_t(target_ids.size()) || k >= std::int64_t(ids.size()))
        throw IoError(path, FrameResultsGroup(k), "frame " + std::to_string(k) + " is not a frame of both this part and " + target);
      if (ids[std::size_t(k)] != target_ids[std::size_t(k)])
        throw IoError(path, "/frames/provenance", "frame " + std::to_string(k) + " is not " + target + "'s frame " + std::to_string(k) +
                                                      " (other provenance or time row); parts must be copies of the target");
    }
    checked.push_back(std::move(p));
  }
  std::int64_t merged = 0;
  Journal journal(target + ".journal");
  for (const Part& p : checked) {
    const FrameStore part = FrameStore::OpenRead(p.path);
    FrameStore t = FrameStore::OpenReadWrite(target);
    for (std::int64_t k : p.frames) t.CopyFrameResults(part, k);
    // Series tables with one row per frame: the part's rows for its frames.
    for (const std::string& name : part.ListSeriesTables()) {
      const ResultTable table = part.ReadSeriesTable(name);
      const ResultColumn* frame = table.Find("frame");
      if (!frame || name == "pipeline_run") continue;
      ResultTable mine{name, {}};
      for (const ResultColumn& c : table.columns) mine.columns.push_back({c.name, c.unit, {}});
      for (std::size_t r = 0; r < table.rows(); ++r)
        if (p.frames.count(std::int64_t(frame->values[r])))
          for (std::size_t c = 0; c < table.columns.size(); ++c) mine.columns[c].values.push_back(table.columns[c].values[r]);
      if (mine.rows() == 0) continue;
      const nlohmann::json prov = nlohmann::json::parse(part.ReadTableProvenance("/series/" + name), nullptr, false);
      const std::string options = prov.is_object() && prov.contains("options") ? prov["options"].dump() : "{}";
      t.WriteSeriesTable(MergeFrameRows(t, mine, options),
                         Provenance{prov.is_object() ? prov.value("step", "merge") : "merge",
                                    (prov.is_object() ? prov.value("source", "") : std::string()) + " (merged from " + p.path + ")", options, ""});
    }
    t.Close();
    // Journal last: a merge killed before this line is simply done again.
    for (const Journal::Entry& e : p.units)
      if (!journal.Has(e.key)) journal.Record(e.key, e.step, e.frame);
    merged += std::int64_t(p.frames.size());
    if (!quiet)
      std::printf("merged %s: %zu frames, %zu units\n", p.path.c_str(), p.frames.size(), p.units.size());
  }
  return merged;
}

std::pair<std::int64_t, std::int64_t> FrameRange(const std::string& frames) {
  const auto colon = frames.find(':');
  try {
    std::size_t used = 0;
    const long long lo = std::stoll(frames.substr(0, colon), &used);
    if (used != frames.substr(0, colon).size()) throw std::invalid_argument("junk");
    long long hi = lo + 1;
    if (colon != std::string::npos) {
      hi = std::stoll(frames.substr(colon + 1), &used);
      if (used != frames.size() - colon - 1) throw std::invalid_argument("junk");
    }
    if (lo < 0 || hi <= lo) throw std::invalid_argument("empty");
    return {lo, hi};
  } catch (const std::exception&) {
    throw ConfigError("--frames", "'" + frames + "' is not a frame K or a range A:B with 0 <= A < B");
  }
}

int RunPipeline(const RunOptions& options, const StepDispatcher& dispatch) {
  if (!options.frames.empty()) FrameRange(options.frames);  // refuses a malformed range before anything runs
  if (options.follow) SetWriterLockWait(std::max(600.0, options.idle_s));
  Runner(options, dispatch).Run();
  return 0;
}

}  // namespace op4d::cli
