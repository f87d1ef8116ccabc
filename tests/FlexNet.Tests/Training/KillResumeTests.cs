using System.Diagnostics;
using System.Globalization;
using FlexNet.IO;
using FlexNet.Tests.IO;

namespace FlexNet.Tests.Training;

/// <summary>
/// R15: a real training process (tests/FlexNet.Checkpoint.Host: batch norm, dropout, noise, early stopping,
/// checkpoint every 3 steps) is killed with SIGKILL 8 times: at random steps and twice inside a checkpoint write (after the
/// temporary file is complete, before the rename), resumed each time, and must end with weights bit-identical to an
/// uninterrupted run. Meanwhile a reader polls the checkpoint's name: whatever sits there must always be a complete
/// checkpoint with a valid checksum. The temporary file orphaned by the kill inside the write is removed by the next
/// write.
/// </summary>
public sealed class KillResumeTests
{
    private static string HostPath()
    {
        // tests/FlexNet.Tests/bin/CONFIG/TFM/ → tests/FlexNet.Checkpoint.Host/bin/CONFIG/TFM/
        var dir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = dir.Name, config = dir.Parent!.Name;
        string hostDir = Path.GetFullPath(Path.Combine(dir.FullName, "..", "..", "..", "..", "FlexNet.Checkpoint.Host", "bin", config, tfm));
        string dll = Path.Combine(hostDir, "FlexNet.Checkpoint.Host.dll");
        Assert.True(File.Exists(dll), $"the host program is not built at {dll} (build tests/FlexNet.Tests, which builds it)");
        return dll;
    }

    private sealed class Child : IDisposable
    {
        private readonly Process _p;
        private readonly object _gate = new();
        private readonly List<string> _lines = new();

        public Child(string dll, string checkpoint, string final, bool pauseBeforeRename)
        {
            var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            psi.ArgumentList.Add(dll);
            psi.ArgumentList.Add(checkpoint);
            psi.ArgumentList.Add(final);
            psi.Environment["FLEXNET_HOST_PAUSE_BEFORE_RENAME"] = pauseBeforeRename ? "1" : "0";
            psi.Environment["DOTNET_TieredPGO"] = "0";
            _p = Process.Start(psi)!;
            _p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_gate) { _lines.Add(e.Data); Monitor.PulseAll(_gate); } };
            _p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_gate) _lines.Add("ERR " + e.Data); };
            _p.BeginOutputReadLine();
            _p.BeginErrorReadLine();
        }

        public string Output { get { lock (_gate) return string.Join("\n", _lines.TakeLast(15)); } }

        /// <summary>Waits for a line matching <paramref name="match"/>; false when the process exited first.</summary>
        public bool WaitFor(Func<string, bool> match, TimeSpan timeout)
        {
            var sw = Stopwatch.StartNew();
            int seen = 0;
            lock (_gate)
            {
                while (sw.Elapsed < timeout)
                {
                    for (; seen < _lines.Count; seen++) if (match(_lines[seen])) return true;
                    if (_p.HasExited) { _p.WaitForExit(); for (; seen < _lines.Count; seen++) if (match(_lines[seen])) return true; return false; }
                    Monitor.Wait(_gate, 20);
                }
            }
            throw new TimeoutException($"no matching line within {timeout}; output:\n{Output}");
        }

        public void Kill()
        {
            _p.Kill(entireProcessTree: false); // SIGKILL on Unix
            _p.WaitForExit();
        }

        public int WaitExit(TimeSpan timeout)
        {
            Assert.True(_p.WaitForExit(timeout), $"the host did not finish within {timeout}; output:\n{Output}");
            _p.WaitForExit();
            return _p.ExitCode;
        }

        public void Dispose()
        {
            if (!_p.HasExited) _p.Kill();
            _p.Dispose();
        }
    }

    private static long StepOf(string line) =>
        line.StartsWith("STEP ", StringComparison.Ordinal) ? long.Parse(line.AsSpan(5), CultureInfo.InvariantCulture) : -1;

    [Fact]
    public void SigkilledTrainingResumedFromCheckpoints_EndsBitIdenticalToAnUninterruptedRun()
    {
        if (OperatingSystem.IsWindows()) return; // Process.Kill is TerminateProcess there; the test targets POSIX SIGKILL
        string dll = HostPath();
        string root = TestFiles.NewTempDir();
        int seed = Environment.TickCount;
        var rng = new Random(seed);
        string Context() => $"(random seed {seed})";
        try
        {
            // Uninterrupted reference run.
            string refDir = Directory.CreateDirectory(Path.Combine(root, "ref")).FullName;
            using (var c = new Child(dll, Path.Combine(refDir, "run.ckpt"), Path.Combine(refDir, "final.bin"), false))
                Assert.True(c.WaitExit(TimeSpan.FromSeconds(60)) == 0, c.Output);
            byte[] reference = File.ReadAllBytes(Path.Combine(refDir, "final.bin"));

            string dir = Directory.CreateDirectory(Path.Combine(root, "killed")).FullName;
            string checkpoint = Path.Combine(dir, "run.ckpt"), final = Path.Combine(dir, "final.bin");

            // A reader that keeps opening whatever sits under the checkpoint's name: it must always be complete.
            int valid = 0;
            string? partial = null;
            bool stop = false;
            var poller = new Thread(() =>
            {
                while (!Volatile.Read(ref stop))
                {
                    try
                    {
                        ChecksummedFile.Read(checkpoint);
                        valid++;
                    }
                    catch (FileNotFoundException)
                    {
                    }
                    catch (ModelFormatException e)
                    {
                        partial ??= e.Message;
                    }
                    Thread.Sleep(1);
                }
            }) { IsBackground = true };
            poller.Start();

            const int Kills = 8; // trials 2 and 5 are killed inside a checkpoint write, the others at random steps
            long resumedAt = 0;
            int killedInWrite = 0;
            for (int trial = 0; trial < Kills; trial++)
            {
                bool inWrite = trial is 2 or 5;
                using var c = new Child(dll, checkpoint, final, pauseBeforeRename: inWrite);
                if (inWrite)
                {
                    Assert.True(c.WaitFor(l => l.StartsWith("WRITING ", StringComparison.Ordinal), TimeSpan.FromSeconds(60)), c.Output);
                    c.Kill();
                    killedInWrite++;
                    // The orphaned temporary file is complete but never renamed; the checkpoint name holds the previous one.
                    Assert.Single(Directory.GetFiles(dir, ".run.ckpt.*.tmp"));
                }
                else
                {
                    // Kill a random number of steps after this run's first step, at a random moment inside the step.
                    long target = -1;
                    bool reached = c.WaitFor(l =>
                    {
                        long s = StepOf(l);
                        if (s < 0) return false;
                        if (target < 0) target = s + rng.Next(1, 13);
                        return s >= target;
                    }, TimeSpan.FromSeconds(60));
                    Assert.True(reached, $"trial {trial}: the run finished before the kill {Context()}:\n{c.Output}");
                    Thread.Sleep(rng.Next(0, 4));
                    c.Kill();
                }
                if (File.Exists(checkpoint)) ChecksummedFile.Read(checkpoint); // the name never holds a partial file
                resumedAt = File.Exists(checkpoint) ? (long)SafeTensorFile.Read(checkpoint)["optimizer.step"].ToDoubleArray()[0] : 0;
            }
            Assert.True(resumedAt > 0, $"no checkpoint was ever written {Context()}");
            Assert.True(resumedAt < Checkpoint.Host.ResumeScenario.TotalSteps, $"the kills came too late {Context()}");

            using (var c = new Child(dll, checkpoint, final, false))
            {
                Assert.True(c.WaitFor(l => l.StartsWith("RESUMED", StringComparison.Ordinal), TimeSpan.FromSeconds(60)), c.Output);
                Assert.True(c.WaitExit(TimeSpan.FromSeconds(60)) == 0, c.Output);
            }
            Volatile.Write(ref stop, true);
            poller.Join();

            Assert.Equal(2, killedInWrite);
            Assert.True(partial is null, $"a partial or corrupt file sat under the checkpoint's name: {partial}");
            Assert.True(valid > 0, "the poller never saw a checkpoint");
            Assert.Empty(Directory.GetFiles(dir, "*.tmp")); // the orphan was cleaned up by a later write
            Assert.True(reference.AsSpan().SequenceEqual(File.ReadAllBytes(final)),
                $"the killed-and-resumed run's final weights differ from the uninterrupted run's {Context()}");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
