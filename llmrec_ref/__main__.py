"""Command line of the course: ``python -m llmrec_ref COMMAND``.

    demo                          the main job on the synthetic shop (no network needed)
    train [options]               train a preset model; under torchrun, data-parallel over processes
    data fetch ml-100k            fetch and verify MovieLens-100k (and its knowledge graph) into the cache
    bench TOPIC [options]         print a benchmark table (data, models, model, encoders, embeddings, text, course,
                                  kg, multimodal, scale, small)
    exercises build [OUT_DIR]     write the student versions of exercises/solutions/ (default into exercises/)
    exercises grade NB.ipynb ...  grade submissions: boxed kernels, checks run in the grader (--json, --timeout)
    site OUT_DIR                  render the chapters to a static HTML site
    serve --model PATH            answer JSON-line requests on stdin with a saved ContextRec
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# argparse types: a bad number is a usage error
from llmrec_ref.bench import non_negative_int, positive_int

BENCH_TOPICS = ("data", "models", "encoders", "embeddings", "model", "text", "course", "kg", "multimodal", "scale", "small")
# What the package raises for bad input; the command line turns each into one line on stderr, status 2.
USER_ERRORS = (ValueError, FileNotFoundError, KeyError, OSError, FloatingPointError)


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (``PROG: error: MESSAGE (see PROG --help)``), status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def one_line(message: object) -> str:
    """A message folded onto one line (a multi-line explanation joined by '; ')."""
    text = message.args[0] if isinstance(message, KeyError) and message.args else message
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())


def _demo(args: argparse.Namespace) -> int:
    from llmrec_ref.demo import run_demo

    run_demo(dataset=args.dataset, seed=args.seed, save=args.save, load=args.load)
    return 0


def _train(args: argparse.Namespace) -> int:
    from llmrec_ref.job import run_job
    from llmrec_ref.tables import markdown_table

    row = run_job(args.dataset, args.out, args.checkpoint, args.epochs, args.batch_size, args.seed, args.preset,
                  args.sparse_items)
    if os.environ.get("RANK", "0") == "0":
        print(markdown_table([row]))
    return 0


def _data(args: argparse.Namespace) -> int:
    from llmrec_ref.datasets import (
        fetch_movielens_100k,
        fetch_movielens_kg,
        load_movielens_100k,
        load_movielens_kg,
    )

    folder = fetch_movielens_100k(args.data_dir)
    ml = load_movielens_100k(args.data_dir, download=False)
    print(f"{ml} verified in {folder}")
    kg_folder = fetch_movielens_kg(args.data_dir)  # also fills a cache made before the graph was in the course
    print(f"{load_movielens_kg(args.data_dir, download=False, n_items=len(ml.items))} verified in {kg_folder}")
    for path in sorted([*folder.iterdir(), *kg_folder.iterdir()]):
        if not path.name.startswith("."):
            print(f"  {path}")
    return 0


def _bench(args: argparse.Namespace, extra: list[str]) -> int:
    from llmrec_ref.bench import markdown_table

    module = importlib.import_module(f"llmrec_ref.bench.{args.topic}")
    options = {}
    parser = getattr(module, "add_arguments", None)
    if parser is not None:
        sub = _Parser(prog=f"python -m llmrec_ref bench {args.topic}")
        parser(sub)
        options = vars(sub.parse_args(extra))
    elif extra:
        raise ValueError(f"bench {args.topic} takes no options, got {' '.join(extra)}")
    rows = module.run(**options)
    print(markdown_table(rows))
    return 0


def _seconds(text: str) -> float:
    from llmrec_ref.grading import positive_seconds

    try:
        return positive_seconds(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _exercises(args: argparse.Namespace) -> int:
    from llmrec_ref.exercises import build_student_versions

    if args.action == "grade":
        from llmrec_ref.grading import grade_command

        return grade_command(args.submissions, args.timeout, args.json, args.chapter)

    for path in build_student_versions(args.out_dir, args.source):
        print(f"wrote {path}")
    return 0


def _site(args: argparse.Namespace) -> int:
    from llmrec_ref.site import build_site

    print(f"wrote {build_site(args.out_dir)}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from llmrec_ref.serve import Service, load_for_serving, serve_lines

    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    service = Service(load_for_serving(args.model), args.backend, args.onnx, args.threads)
    serve_lines(service, sys.stdin, sys.stdout)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m llmrec_ref", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the main job on the synthetic shop")
    demo.add_argument("--dataset", choices=("shop", "ml-100k"), default="shop")
    demo.add_argument("--seed", type=non_negative_int, default=0)
    demo.add_argument("--save", default=None, metavar="PATH", help="write the trained model to PATH")
    demo.add_argument("--load", default=None, metavar="PATH", help="reuse the model at PATH instead of training")

    train = commands.add_parser("train", help="train a preset model; under torchrun, data-parallel over processes")
    train.add_argument("--dataset", choices=("shop", "ml-100k"), default="shop")
    train.add_argument("--preset", default=None, help="a name from recipes.PRESETS (default: the first for the data set)")
    train.add_argument("--out", default=None, metavar="PATH", help="write the trained model to PATH")
    train.add_argument("--checkpoint", default=None, metavar="PATH",
                       help="write the training state here after each epoch; resume from it if it exists")
    train.add_argument("--epochs", type=positive_int, default=None)
    train.add_argument("--batch-size", type=positive_int, default=None,
                       help="the global batch, whatever the number of processes")
    train.add_argument("--seed", type=non_negative_int, default=0)
    train.add_argument("--sparse-items", action="store_true",
                       help="train the item table row-sparse with SparseAdam (large catalogues; sampled losses)")

    data = commands.add_parser("data", help="fetch data sets")
    data_cmd = data.add_subparsers(dest="action", required=True)
    fetch = data_cmd.add_parser("fetch", help="fetch and verify a data set into the cache")
    fetch.add_argument("name", choices=("ml-100k",))
    fetch.add_argument("--data-dir", default=None, help="cache folder (default $LLMREC_DATA or ~/.cache/llmrec_ref)")

    bench = commands.add_parser("bench", help="print a benchmark table", add_help=False)
    bench.add_argument("topic", choices=BENCH_TOPICS)

    ex = commands.add_parser("exercises", help="instructor tools for the exercise notebooks")
    ex_cmd = ex.add_subparsers(dest="action", required=True)
    build = ex_cmd.add_parser("build", help="write student versions (solutions removed, outputs cleared)")
    build.add_argument("out_dir", nargs="?", default=None,
                       help="where to write the student versions (default: the repo's exercises/)")
    build.add_argument("--source", default=None,
                       help="folder of solution notebooks (default: the repo's exercises/solutions/)")
    grade = ex_cmd.add_parser("grade", help="run each submission in its own boxed kernel (temporary folder, "
                              "rlimits on Linux, classmates and solutions hidden) and judge its answers "
                              "with the package's checks in the grader's process")
    grade.add_argument("submissions", nargs="+", metavar="SUBMISSION.ipynb")
    grade.add_argument("--json", default=None, metavar="OUT", help="also write the scores as JSON to OUT")
    grade.add_argument("--timeout", type=_seconds, default=60.0,
                       help="seconds per cell and per call of a learner's function, any positive number "
                            "(default 60); a submission gets 10 x this for its cells and as much for its checks")
    grade.add_argument("--chapter", default=None, help="chapter NN when the file name does not start with it")

    site = commands.add_parser("site", help="render the chapter notebooks to a static HTML site")
    site.add_argument("out_dir")

    serve = commands.add_parser("serve", help="answer JSON-line requests on stdin with a saved ContextRec")
    serve.add_argument("--model", required=True, metavar="PATH", help="a checkpoint written by model.save(PATH)")
    serve.add_argument("--backend", choices=("torch", "int8", "onnx"), default="torch")
    serve.add_argument("--onnx", default=None, metavar="PATH", help="the model's ONNX file (default: export one)")
    serve.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: the library's choice)")

    args, extra = parser.parse_known_args(argv)
    if args.command != "bench" and extra:
        parser.error(f"unrecognised arguments: {' '.join(extra)}")
    handlers = {"demo": _demo, "train": _train, "data": _data, "exercises": _exercises, "site": _site,
                "serve": _serve}
    try:
        if args.command == "bench":
            return _bench(args, extra)
        return handlers[args.command](args)
    except USER_ERRORS as err:  # bad input: what to fix, on one line, no traceback
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
