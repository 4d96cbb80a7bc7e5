/// `12.3 MiB`-style sizes. In the core rather than the executable because the libraries'
/// own error messages name sizes this way (a run "needs about 4.02 GiB ... above the memory
/// budget of 512.0 MiB"); the command line's tables and progress bars use it too.
public func formatBytes(_ n: Int) -> String {
    if n < 1024 { return "\(n) B" }
    let units = ["KiB", "MiB", "GiB", "TiB"]
    var v = Double(n) / 1024
    var u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return formatFixed(v, digits: v < 10 ? 2 : 1) + " " + units[u]
}

/// A fixed-point rendering without Foundation's `String(format:)`.
public func formatFixed(_ v: Double, digits: Int) -> String {
    guard v.isFinite else { return "\(v)" }
    var scale = 1.0
    for _ in 0 ..< digits { scale *= 10 }
    let scaled = (abs(v) * scale).rounded()
    let whole = Int(scaled / scale)
    var frac = String(Int(scaled) - whole * Int(scale))
    while frac.count < digits { frac = "0" + frac }
    return (v < 0 && scaled != 0 ? "-" : "") + String(whole) + (digits > 0 ? "." + frac : "")
}
