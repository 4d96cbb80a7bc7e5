import LatteCore

/// Compression ratios as `0.866`.
func formatRatio(_ r: Double) -> String { formatFixed(r, digits: 3) }

/// `1.23e-05`-style numbers for error columns.
func formatScientific(_ x: Double) -> String {
    guard x.isFinite else { return "\(x)" }
    if x == 0 { return "0" }
    var e = 0
    var m = abs(x)
    while m >= 10 { m /= 10; e += 1 }
    while m < 1 { m *= 10; e -= 1 }
    return (x < 0 ? "-" : "") + formatFixed(m, digits: 2) + "e" + (e < 0 ? "-" : "+") + (abs(e) < 10 ? "0" : "") + String(abs(e))
}
