import ArgumentParser

/// The options that decide a checkpoint's expert-group plan, shared by `map` and `convert`.
struct PlanOptions: ParsableArguments {
    @Option(help: "The model config (default: config.json beside the weights).")
    var config: String?

    @Option(help: "A mapping file renaming another naming convention onto the spec's names (schemas/mapping.schema.json).")
    var mapping: String?

    @Flag(help: "Keep tensors the model does not have in an `extra` section instead of refusing the checkpoint.")
    var allowExtra = false
}
