#include "run.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "op4d/core/error.h"

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

nlohmann::json PipelineSchema() { return nlohmann::json::parse(kPipelineSchema); }

void ValidatePipeline(const nlohmann::json& pipeline, const std::string& source) {
  const nlohmann::json schema = PipelineSchema();
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
  for (const auto& t : PipelineSchema()["definitions"][name].value("x-op4d-run", nlohmann::json::array())) takes.insert(t.get<std::string>());
  std::vector<std::string> args{"op4d", name};
  if (name == "synth") {
    args.insert(args.end(), {"--out", store});
  } else {
    args.push_back(store);
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
