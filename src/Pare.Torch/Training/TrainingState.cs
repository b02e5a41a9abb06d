using System.Text.Json;
using System.Text.Json.Nodes;
using Pare.Core.Formats.Safetensors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pare.Torch.Training;

/// <summary>
/// A training run's resumable state in one folder: the trained parameters (safetensors, by name), AdamW's moments and
/// the steps done with their losses. The folder is written under a temporary name and renamed into place, so an
/// interrupted save leaves the previous state intact.
/// </summary>
public static class TrainingState
{
    private const string ParametersFile = "parameters.safetensors";
    private const string OptimizerFile = "optimizer.bin";
    private const string StateFile = "state.json";

    public static void Save(string path, IReadOnlyList<(string Name, Parameter Parameter)> parameters, OptimizerHelper optimizer, int stepsDone, IReadOnlyList<double> losses, int seed)
    {
        var full = Path.GetFullPath(path);
        var parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        var temp = Path.Combine(parent, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temp);
        try
        {
            SafetensorsWriter.Write(Path.Combine(temp, ParametersFile), parameters.Select(p => TorchLlama.FromTensor(p.Name, p.Parameter)).ToList());
            optimizer.save_state_dict(Path.Combine(temp, OptimizerFile));
            var state = new JsonObject
            {
                ["steps_done"] = stepsDone,
                ["seed"] = seed,
                ["parameters"] = new JsonArray(parameters.Select(p => (JsonNode)p.Name).ToArray()),
                ["losses"] = new JsonArray(losses.Select(l => (JsonNode)l).ToArray()),
            };
            File.WriteAllText(Path.Combine(temp, StateFile), state.ToJsonString());
            var old = full + ".old";
            if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
            if (Directory.Exists(full)) Directory.Move(full, old);
            Directory.Move(temp, full);
            if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        }
        catch
        {
            try { Directory.Delete(temp, recursive: true); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>
    /// Loads saved state into <paramref name="parameters"/> and <paramref name="optimizer"/>; returns the steps done and
    /// their losses, or null when there is no state. Refuses state saved for other parameters or another seed.
    /// </summary>
    public static (int StepsDone, List<double> Losses)? TryLoad(string path, IReadOnlyList<(string Name, Parameter Parameter)> parameters, OptimizerHelper optimizer, int seed)
    {
        var stateFile = Path.Combine(path, StateFile);
        if (!File.Exists(stateFile)) return null;
        JsonNode state;
        try
        {
            state = JsonNode.Parse(File.ReadAllText(stateFile)) ?? throw new InvalidOperationException("empty");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new InvalidOperationException($"training state {stateFile} is not valid JSON: {e.Message}");
        }
        var names = state["parameters"]?.AsArray().Select(n => n!.GetValue<string>()).ToList() ?? new List<string>();
        if (!names.SequenceEqual(parameters.Select(p => p.Name)))
            throw new InvalidOperationException($"training state in {path} was saved for other trainable tensors; delete it or train the same selection");
        if (state["seed"]?.GetValue<int>() != seed)
            throw new InvalidOperationException($"training state in {path} was saved with seed {state["seed"]}, not {seed}");
        var file = SafetensorsFile.Open(Path.Combine(path, ParametersFile));
        using (no_grad())
        {
            foreach (var (name, p) in parameters)
            {
                using var saved = TorchLlama.ToTensor(file[name]);
                if (!saved.shape.SequenceEqual(p.shape)) throw new InvalidOperationException($"training state tensor {name} has another shape");
                p.copy_(saved);
            }
        }
        optimizer.load_state_dict(Path.Combine(path, OptimizerFile));
        var losses = state["losses"]?.AsArray().Select(n => n!.GetValue<double>()).ToList() ?? new List<double>();
        return (state["steps_done"]!.GetValue<int>(), losses);
    }
}
