using System.Diagnostics;
using System.Runtime.CompilerServices;
static class P {
  [MethodImpl(MethodImplOptions.NoInlining)]
  static long Chain(long n, long a) { for (long i = 0; i < n; i++) { a = a * 3 + 1; a = a * 3 + 1; a = a * 3 + 1; a = a * 3 + 1; } return a; }
  static void Main() {
    Chain(1000000, 1);
    for (int k = 0; k < 5; k++) {
      var sw = Stopwatch.StartNew(); long r = Chain(100_000_000, k); double s = sw.Elapsed.TotalSeconds;
      // each a*3+1 = lea (1 cycle) ... imul would be 3; JIT uses lea a,[a+2a]; inc -> 2 cycles? print ns per op
      System.Console.WriteLine($"{s / 4e8 * 1e9:F3} ns per step ({r & 1})");
    }
  }
}
