import LatteCore

extension LatteRun {
    /// What `onStep` hears after each sampling step: its index, timestep, group, seconds,
    /// and the part of those spent reading the group's weights.
    public typealias StepObserver = (_ step: Int, _ t: Double, _ group: Int, _ seconds: Double, _ groupReadSeconds: Double) -> Void

    /// `latte run` on files: reads the inputs at `inputsPath` against the model's config,
    /// builds the model within `memoryBudget` bytes (nil: `MemoryBudget.automatic`), then
    /// `execute`s it (`progress` as there).
    ///
    /// - Throws: `LocatedError`s naming the file each error concerns: the inputs for their
    ///   tensors and token ids, the model for the rest. A `RuntimeError.usage` (guidance
    ///   without `uncond_ids`) comes through as it is: the command line asked for it.
    public static func run(_ model: LoadedModel, inputsPath: String, steps: Int, cfgScale: Float, memoryBudget: Int?,
                           onStep: StepObserver? = nil, progress: ProgressHandler? = nil) throws -> (outputs: [OutputTensor], timings: RunTimings) {
        let inputs = try RunInputs.load(path: inputsPath, config: model.config)
        if cfgScale != 1 && inputs.uncondIDs == nil {
            throw RuntimeError.usage("\(inputsPath): --cfg-scale \(cfgScale) needs an unconditional context: add 'uncond_ids' to the inputs")
        }
        let latte: LatteModel
        do { latte = try LatteModel(config: model.config, weights: model.weights, memoryBudget: memoryBudget) } catch let e as RuntimeError {
            throw LocatedError(path: model.path, e)
        }
        do {
            return try execute(model: latte, inputs: inputs, steps: steps, cfgScale: cfgScale, onStep: onStep, progress: progress)
        } catch let e as RuntimeError {
            if case .usage = e { throw e }
            throw LocatedError(path: e.concernsInputs ? inputsPath : model.path, e)
        }
    }
}

extension RuntimeError {
    /// True for the errors of a run that are the inputs' fault rather than the model's:
    /// token ids outside the vocabulary (the inputs' own checks are located when read).
    var concernsInputs: Bool {
        if case .tokenOutOfRange = self { return true }
        return false
    }
}
