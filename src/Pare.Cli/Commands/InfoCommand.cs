using System.CommandLine;
using System.Text.Json.Nodes;
using Pare.Core;
using Pare.Core.Sparsity;
using Pare.Core.Tensors;
using Spectre.Console;

namespace Pare.Cli.Commands;

/// <summary>pare info: architecture, parameter count, storage types and per-tensor sparsity of a model.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var model = new ModelOptions();
        var cmd = new Command("info", "Describe a model file");
        model.AddTo(cmd, tokenizer: false, threads: false);
        cmd.SetAction(parse => CliContext.Run(parse, _ =>
        {
            var ck = model.LoadModel(parse);
            var warnings = ck.Validate();
            var c = ck.Config;
            var tensors = new JsonArray();
            long zeros = 0, linearElems = 0;
            foreach (var t in ck.Tensors.Values.OrderBy(t => t.Name, StringComparer.Ordinal))
            {
                var values = t.ToFloat32();
                long z = values.LongCount(v => v == 0f);
                if (t.Shape.Length == 2 && t.Name.Contains(".layers.", StringComparison.Ordinal))
                {
                    zeros += z;
                    linearElems += values.LongLength;
                }
                // N:M semi-structured sparsity (at most N non-zeros per M input columns), detected from the values.
                var nm = t.Shape.Length == 2 && z > 0 ? NmPattern.Detect(values, t.Rows, t.Columns) : null;
                tensors.Add(new JsonObject
                {
                    ["name"] = t.Name,
                    ["shape"] = new JsonArray(t.Shape.Select(s => (JsonNode)s).ToArray()),
                    ["dtype"] = DTypeInfo.Name(t.Type),
                    ["bytes"] = t.Data.Length,
                    ["sparsity"] = Math.Round((double)z / Math.Max(1, values.LongLength), 6),
                    ["nm"] = nm is { } p ? $"{p.N}:{p.M}" : null,
                });
            }
            var dtypes = ck.Tensors.Values.GroupBy(t => DTypeInfo.Name(t.Type)).ToDictionary(g => g.Key, g => g.Count());
            return new JsonObject
            {
                ["path"] = ck.Source,
                ["format"] = ck.Format,
                ["architecture"] = c.Architecture,
                ["dim"] = c.Dim,
                ["hidden_dim"] = c.HiddenDim,
                ["layers"] = c.Layers,
                ["heads"] = c.Heads,
                ["kv_heads"] = c.KvHeads,
                ["vocab_size"] = c.VocabSize,
                ["max_seq_len"] = c.MaxSeqLen,
                ["tied_embeddings"] = c.TiedEmbeddings,
                ["parameters"] = ck.ParameterCount,
                ["dtype"] = dtypes.Count == 1 ? dtypes.Keys.First() : "mixed",
                ["dtypes"] = new JsonObject(dtypes.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
                ["linear_sparsity"] = Math.Round((double)zeros / Math.Max(1, linearElems), 6),
                ["tensors"] = tensors,
                ["warnings"] = new JsonArray(warnings.Select(w => (JsonNode)w).ToArray()),
            };
        }, Render));
        return cmd;
    }

    private static void Render(IAnsiConsole console, JsonObject r)
    {
        console.MarkupLineInterpolated($"[bold]{r["path"]}[/] ({r["format"]}, {r["architecture"]})");
        console.MarkupLineInterpolated($"dim {r["dim"]}, hidden {r["hidden_dim"]}, layers {r["layers"]}, heads {r["heads"]}/{r["kv_heads"]}, vocab {r["vocab_size"]}, context {r["max_seq_len"]}");
        console.MarkupLineInterpolated($"{r["parameters"]} parameters, dtype {r["dtype"]}, sparsity of decoder linears {r["linear_sparsity"]}");
        var table = new Table().AddColumns("tensor", "shape", "dtype", "bytes", "sparsity", "N:M");
        foreach (var t in r["tensors"]!.AsArray())
            table.AddRow(Markup.Escape(t!["name"]!.ToString()), t["shape"]!.ToJsonString(), t["dtype"]!.ToString(), t["bytes"]!.ToString(), t["sparsity"]!.ToString(), t["nm"]?.ToString() ?? "");
        console.Write(table);
        foreach (var w in r["warnings"]!.AsArray()) console.MarkupLineInterpolated($"[yellow]warning:[/] {w}");
    }
}
