"""Command line of the course: ``python -m llmrec_ref COMMAND``.

    demo                          the main job on the synthetic shop (no network needed)
    data fetch ml-100k            fetch and verify MovieLens-100k into the cache
    bench TOPIC [options]         print a benchmark table (data, models, model, encoders, embeddings, text, course)
    exercises build OUT_DIR       write the student versions of the exercise notebooks
    exercises grade NB.ipynb ...  grade submissions with the package's checks (--json, --timeout)
    site OUT_DIR                  render the chapters to a static HTML site
    serve --model PATH            answer JSON-line requests on stdin with a saved ContextRec
"""

from __future__ import annotations

import argparse
import importlib
import sys

BENCH_TOPICS = ("data", "models", "encoders", "embeddings", "model", "text", "course", "small")


def _demo(args: argparse.Namespace) -> int:
    from llmrec_ref.demo import run_demo

    run_demo(dataset=args.dataset, seed=args.seed, save=args.save, load=args.load)
    return 0


def _data(args: argparse.Namespace) -> int:
    from llmrec_ref.datasets import fetch_movielens_100k, load_movielens_100k

    folder = fetch_movielens_100k(args.data_dir)
    ml = load_movielens_100k(args.data_dir, download=False)
    print(f"{ml} verified in {folder}")
    for path in sorted(folder.iterdir()):
        if not path.name.startswith("."):
            print(f"  {path}")
    return 0


def _bench(args: argparse.Namespace, extra: list[str]) -> int:
    from llmrec_ref.bench import markdown_table

    module = importlib.import_module(f"llmrec_ref.bench.{args.topic}")
    options = {}
    parser = getattr(module, "add_arguments", None)
    if parser is not None:
        sub = argparse.ArgumentParser(prog=f"python -m llmrec_ref bench {args.topic}")
        parser(sub)
        options = vars(sub.parse_args(extra))
    elif extra:
        raise SystemExit(f"bench {args.topic} takes no options, got {' '.join(extra)}")
    rows = module.run(**options)
    print(markdown_table(rows))
    return 0


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
    parser = argparse.ArgumentParser(prog="python -m llmrec_ref", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the main job on the synthetic shop")
    demo.add_argument("--dataset", choices=("shop", "ml-100k"), default="shop")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--save", default=None, metavar="PATH", help="write the trained model to PATH")
    demo.add_argument("--load", default=None, metavar="PATH", help="reuse the model at PATH instead of training")

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
    build.add_argument("out_dir")
    build.add_argument("--source", default=None, help="folder of solution notebooks (default: the repo's exercises/)")
    grade = ex_cmd.add_parser("grade", help="run submissions in a fresh kernel and score them with the package's checks")
    grade.add_argument("submissions", nargs="+", metavar="SUBMISSION.ipynb")
    grade.add_argument("--json", default=None, metavar="OUT", help="also write the scores as JSON to OUT")
    grade.add_argument("--timeout", type=float, default=60.0, help="seconds per cell and per check (default 60)")
    grade.add_argument("--chapter", default=None, help="chapter NN when the file name does not start with it")

    site = commands.add_parser("site", help="render the chapter notebooks to a static HTML site")
    site.add_argument("out_dir")

    serve = commands.add_parser("serve", help="answer JSON-line requests on stdin with a saved ContextRec")
    serve.add_argument("--model", required=True, metavar="PATH", help="a checkpoint written by model.save(PATH)")
    serve.add_argument("--backend", choices=("torch", "int8", "onnx"), default="torch")
    serve.add_argument("--onnx", default=None, metavar="PATH", help="the model's ONNX file (default: export one)")
    serve.add_argument("--threads", type=int, default=None, help="CPU threads (default: the library's choice)")

    args, extra = parser.parse_known_args(argv)
    if args.command == "bench":
        return _bench(args, extra)
    if extra:
        parser.error(f"unrecognised arguments: {' '.join(extra)}")
    handlers = {"demo": _demo, "data": _data, "exercises": _exercises, "site": _site, "serve": _serve}
    try:
        return handlers[args.command](args)
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
