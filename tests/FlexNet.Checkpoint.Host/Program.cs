using FlexNet.Checkpoint.Host;
using FlexNet.IO;
using FlexNet.Training;

// Usage: FlexNet.Checkpoint.Host CHECKPOINT FINAL_WEIGHTS
// Resumes from CHECKPOINT when it exists, trains ResumeScenario to the end (checkpointing every few steps) and
// writes the final parameters and buffers to FINAL_WEIGHTS. Prints "STEP n" after every optimizer step. With
// FLEXNET_HOST_PAUSE_BEFORE_RENAME=1 the first checkpoint write prints "WRITING" once its temporary file is
// complete and then sleeps before the rename, so a test can kill the process inside a checkpoint write.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: FlexNet.Checkpoint.Host CHECKPOINT FINAL_WEIGHTS");
    return 2;
}
string checkpoint = args[0], final = args[1];
if (Environment.GetEnvironmentVariable("FLEXNET_HOST_PAUSE_BEFORE_RENAME") == "1")
{
    AtomicFile.BeforeRename = path =>
    {
        Console.Out.WriteLine("WRITING " + path);
        Console.Out.Flush();
        Thread.Sleep(30_000);
    };
}
var model = ResumeScenario.NewModel();
var (x, y) = ResumeScenario.Data();
var options = ResumeScenario.Options(checkpoint, info => Console.Out.WriteLine("STEP " + info.Step));
var trainer = new Trainer((ITrainable)model, options);
if (File.Exists(checkpoint))
{
    trainer.LoadCheckpoint(checkpoint);
    Console.Out.WriteLine($"RESUMED epoch {trainer.Epoch} step {trainer.Optimizer.StepCount}");
}
trainer.Fit(x, y);
byte[] image = ResumeScenario.WeightsImage(model);
AtomicFile.Write(final, s => s.Write(image));
Console.Out.WriteLine("DONE");
return 0;
