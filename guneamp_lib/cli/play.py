"""``guneamp play``: your guitar through a trained model in real time, on a JACK server.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import GuneampError
from ..knobs import parse_setting
from .common import MAX_GAIN_DB, argument_type, check_inputs, claim, number

MAX_GATE_DB = 0.0
MIN_GATE_DB = -120.0


def cmd_play(args) -> int:
    check_inputs((args.model, "model"), (args.ir, "cabinet IR"))
    knobs = {}
    for name, value in args.knob:
        if name in knobs:
            raise GuneampError(f"--knob {name} is given twice; give each knob once")
        knobs[name] = value
    if args.record is not None and Path(args.record).exists() and not Path(args.record).is_dir():
        raise GuneampError(f"--record {args.record}: it is a file; give a folder for the takes")
    try:
        from ..render.live import play
    except (ImportError, OSError) as exc:  # JACK-Client missing, or libjack not installed
        raise GuneampError(f"JACK is not available ({exc}). Install the JACK library (Debian: `apt install jackd2`) "
                           "and the JACK-Client Python package.") from None

    def say(line: str) -> None:
        print(line, flush=True)

    takes = ()
    if args.record is not None:
        from ..render.live_record import take_paths

        Path(args.record).mkdir(parents=True, exist_ok=True)
        takes = take_paths(args.record)
    with claim(*takes, overwrite=False):  # two plays recording into one folder never share a take's name
        report = play(args.model, server=args.server, connect=args.connect, auto_connect=not args.no_connect,
                      ir_path=args.ir, use_ir=not args.no_ir, in_db=args.gain_db, out_db=args.output_db,
                      gate_db=args.gate_db, knobs=knobs, extrapolate=args.extrapolate, record=args.record,
                      takes=takes or None, seconds=args.seconds, keys=not args.no_keys, name=args.client_name,
                      say=say)
    if args.stats:
        from ..paths import write_text_atomic

        write_text_atomic(args.stats, json.dumps(report.as_dict(), indent=2) + "\n")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "play", help="play your guitar through a model in real time (a JACK client)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Play a trained model live: a JACK client with one input port (your guitar's DI) and one output\n"
            "port, running the model at the level `guneamp render` uses (the same DI level gives the same\n"
            "drive) with its cabinet IR. A JACK server must be running at the model's sample rate: jackd\n"
            "(e.g. `jackd -R -d alsa -r 48000 -p 64`; -R, real-time priority, is what keeps it free of\n"
            "dropouts), QjackCtl, or PipeWire (`pw-jack guneamp play ...`).\n\n"
            "Ports: the input is connected from the first capture port of your interface and the output to\n"
            "the first two playback ports, unless --no-connect or --connect is given.\n"
            "Latency: play prints what it adds (the model's own samples; 0 for most models) and the total\n"
            "with the server's capture and playback blocks, the delay from strings to speaker; it prints\n"
            "the DSP load every few seconds and each xrun (a dropout) as it happens.\n"
            "Keys: up/down drive +-1 dB, right/left output +-1 dB, g gate, tab next knob, +/- the knob.\n"
            "Stop: Ctrl-C or q (or --seconds). Recordings (--record DIR): DIR/take-<date>-<time>-dry.wav\n"
            "(the DI as played, to re-amp with `guneamp render`) and ...-wet.wav (what you heard); both are\n"
            "finished and valid however play stops, the server going away included."),
        epilog=(
            "Real time: the audio callback never allocates, never takes a lock and never waits. Every\n"
            "buffer (the recording rings included) is made before the client starts; each block is a few\n"
            "compiled kernels called directly (drive and gate, the model, the cabinet with its own FFT,\n"
            "level and recording), compiled before the first block. A key reaches it through a small\n"
            "preallocated array that the key thread writes and the callback reads once per block; a knob\n"
            "glides to its new value over the model's ramp. The recorder thread writes the files from the\n"
            "rings at its own pace. If xruns come anyway: a server without -R, or a block too small for\n"
            "this machine (try -p 128)."))
    p.add_argument("--model", required=True, help="checkpoint written by `guneamp train` (best.pt), or a .nam file")
    p.add_argument("--ir", default=None, help="use this cabinet IR instead of the one stored with the model")
    p.add_argument("--no-ir", action="store_true", help="leave the cabinet out (e.g. into a real cabinet or a cab sim)")
    p.add_argument("--connect", action="append", default=[], metavar="PORT",
                   help="connect to this JACK port instead of the defaults: a capture port (e.g. system:capture_2) "
                        "feeds the input, a playback port (e.g. system:playback_1) takes the output; repeat it")
    p.add_argument("--no-connect", action="store_true", help="connect nothing (use QjackCtl or jack_connect)")
    p.add_argument("--gain-db", type=number(-MAX_GAIN_DB, MAX_GAIN_DB), default=0.0,
                   help="drive: input gain on top of the model's training level (default 0: as trained)")
    p.add_argument("--output-db", type=number(-MAX_GAIN_DB, MAX_GAIN_DB), default=0.0,
                   help="output level on top of the training target's level (default 0)")
    p.add_argument("--gate-db", type=number(MIN_GATE_DB, MAX_GATE_DB), default=None, metavar="DBFS",
                   help="noise gate before the model: opens when the DI's peak passes this level (e.g. -60); "
                        "default off")
    p.add_argument("--knob", type=argument_type(parse_setting), action="append", default=[], metavar="NAME=VALUE",
                   help="a knob model's setting in the gear's own units (e.g. --knob drive=7); unset knobs start "
                        "at the middle of their range")
    p.add_argument("--extrapolate", action="store_true", help="allow --knob values outside the trained range")
    p.add_argument("--record", default=None, metavar="DIR", help="record the take's DI and output into this folder")
    p.add_argument("--seconds", type=number(above=0, high=1e6), default=None, help="stop after this many seconds")
    p.add_argument("--server", default=None, metavar="NAME", help="the JACK server's name (default: the default server)")
    p.add_argument("--client-name", default="guneamp", metavar="NAME", help="this client's name (default guneamp)")
    p.add_argument("--no-keys", action="store_true", help="do not read keys from the terminal or standard input")
    p.add_argument("--stats", default=None, help=argparse.SUPPRESS)  # JSON of the take's timings, for make bench
    p.set_defaults(func=cmd_play)

