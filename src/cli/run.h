// op4d run: a declarative pipeline (pipelines/*.json, validated against schemas/pipeline.schema.json)
// executed step by step on one campaign store. Each step is the op4d command of the same name with
// the step's options as its command-line options, so a pipeline and the commands share one meaning.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace op4d::cli {

// The pipeline schema built into op4d (schemas/pipeline.schema.json).
nlohmann::json PipelineSchema();

// Validates a pipeline against the schema. Throws ConfigError("<source>: <JSON pointer>", what is
// expected) for the first fault: an unknown key, a wrong type, a value out of range.
void ValidatePipeline(const nlohmann::json& pipeline, const std::string& source);

// Reads and validates a pipeline file (IoError if unreadable, ConfigError naming the line for bad JSON).
nlohmann::json ReadPipeline(const std::string& path);

// The command line of one step: {"op4d", step, store-or-"--out store", options...}. Booleans true
// become flags, arrays of numbers several values, arrays of strings one comma-separated value.
// `frames` ("A:B" or "K", may be empty), `threads` (> 0) and `quiet` are added where the command takes
// them (the step's x-op4d-run list in the schema).
std::vector<std::string> StepArguments(const nlohmann::json& step, const std::string& store, const std::string& frames,
                                       int threads, bool quiet);

}  // namespace op4d::cli
