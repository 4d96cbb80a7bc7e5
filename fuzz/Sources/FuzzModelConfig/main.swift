import FuzzSupport
import LatteCore
import LatteMapper

// Model config (`config.json`): every field and relation checked, nothing trusted.
runFuzzer { bytes in
    guard let json = try? JSON.parse(bytes), let config = try? ModelConfig(json: json) else { return }
    precondition(config.numHiddenLayers % config.numTimestepGroups == 0)
    for t in stride(from: 0.0, through: 1.0, by: 0.125) {
        precondition((0 ..< config.numTimestepGroups).contains(config.group(ofTimestep: t)))
    }
}
