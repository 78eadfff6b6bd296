"""The distillation frames: which jobs there are, what each generator makes, and that a killed job resumes
to the frames of a job never interrupted.

The teacher here is a Lennard-Jones stand-in (ASE's LennardJones behind amala's `Teacher` interface): the
generators' bookkeeping is what is tested, and a real teacher (SevenNet-0, ~0.5 s per call) would make
the test minutes long. The real teacher's frames are made by `amala potential distill`."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest
from ase.calculators.lj import LennardJones

from amala.oracles.mlip import distill
from amala.oracles.mlip.distill import DistillComposition, DistillSpec, Job, jobs, run_job, summary
from amala.oracles.mlip.labelled_frames import FrameStore
from amala.oracles.mlip.teachers import Teacher, TeacherSpec


class LJTeacher(Teacher):
    """Lennard-Jones with a cutoff that fits the small cells: cheap, finite, periodic stress."""

    class Spec(TeacherSpec):
        kind: Literal["sevennet"] = "sevennet"

    package = "ase"

    @property
    def detail(self) -> str:
        return "lennard-jones"

    def level_of_theory(self) -> str:
        return "Lennard-Jones stand-in (test)"

    def settings(self) -> dict:
        return {"sigma": 2.0, "epsilon": 0.01}

    def _build(self):
        return LennardJones(sigma=2.0, epsilon=0.01, rc=4.5, smooth=True)


@pytest.fixture
def lj_teacher(monkeypatch):
    monkeypatch.setattr(distill, "make_teacher", lambda spec: LJTeacher(spec))


def tiny_spec(**kw) -> DistillSpec:
    glass = dict(family="thiophosphate", density_g_cm3=1.9, atoms=16, quench_K=[600.0])
    return DistillSpec(compositions=[DistillComposition(composition="Li2S:0.75;P2S5:0.25", **glass),
                                     DistillComposition(composition="Li2S:0.7;P2S5:0.3", heldout=True, **glass)],
                       melt_ps=0.01, segment_ps=[0.01], dt_fs=1.0, chunk=4, snapshots=2, rattle_A=[0.05, 0.1],
                       strained_copies=1, hot_steps=3, validation_steps=8, validation_every=4, **kw)


def test_jobs_run_md_first_and_make_no_training_copies_of_held_out_glasses():
    waves = jobs(tiny_spec())
    assert waves[0] == [Job(0, "md"), Job(0, "validation")]
    assert waves[1] == [Job(0, "synthetic"), Job(0, "hot")]
    assert waves[2] == [Job(1, "md")]  # held out: labelled last, while the student trains


def test_every_generator_makes_its_frames_and_held_out_glasses_have_their_own_folder(tmp_path, lj_teacher):
    spec = tiny_spec()
    for wave in jobs(spec):
        for job in wave:
            run_job(spec, job, tmp_path)
    rows = {(r["composition"], r["generator"]): r for r in summary(spec, tmp_path)}
    md = rows[("Li2S:0.75;P2S5:0.25", "md")]
    assert md["frames"] == 10 + 10 + 1 and md["done"]  # 10 melt + 10 quench steps, and the starting frame
    assert rows[("Li2S:0.75;P2S5:0.25", "synthetic")]["frames"] == 2 * (2 + 1 + 1)  # rattles, strain, compressed
    assert rows[("Li2S:0.75;P2S5:0.25", "hot")]["frames"] == 3 + 1
    validation = FrameStore(Job(0, "validation").folder(tmp_path, spec)).frames()
    assert len(validation) == 8 // 4 + 1  # every 4th of 8 steps and the start, from a cell of its own
    md_ids = {f.info["frame_id"] for f in FrameStore(Job(0, "md").folder(tmp_path, spec)).frames()}
    assert not md_ids & {f.info["frame_id"] for f in validation}
    assert (tmp_path / "heldout" / spec.compositions[1].slug / "md" / "labels.extxyz").exists()
    sources = {f.info["source"] for f in FrameStore(Job(0, "synthetic").folder(tmp_path, spec)).frames()}
    assert sources == {"rattle:0.05A", "rattle:0.1A", "strain:0.03", "compress:0.95"}


def test_a_killed_md_job_resumes_to_the_frames_of_an_uninterrupted_one(tmp_path, lj_teacher, monkeypatch):
    spec = tiny_spec()
    run_job(spec, Job(0, "md"), tmp_path / "whole")
    calls = {"n": 0}
    keep = FrameStore.keep

    def dying_keep(self, teacher, atoms, source):
        calls["n"] += 1
        if calls["n"] == 7:  # inside the second chunk of the melt
            raise KeyboardInterrupt("killed")
        return keep(self, teacher, atoms, source)

    monkeypatch.setattr(FrameStore, "keep", dying_keep)
    with pytest.raises(KeyboardInterrupt):
        run_job(spec, Job(0, "md"), tmp_path / "killed")
    monkeypatch.setattr(FrameStore, "keep", keep)
    run_job(spec, Job(0, "md"), tmp_path / "killed")
    whole = FrameStore(Job(0, "md").folder(tmp_path / "whole", spec)).frames()
    resumed = FrameStore(Job(0, "md").folder(tmp_path / "killed", spec)).frames()
    assert [f.info["frame_id"] for f in resumed] == [f.info["frame_id"] for f in whole]
    assert np.allclose(resumed[-1].get_forces(), whole[-1].get_forces())


def test_a_bad_composition_is_refused_in_one_line():
    with pytest.raises(ValueError, match="density_g_cm3"):
        DistillComposition(composition="Li2S:0.75;P2S5:0.25", family="x", density_g_cm3=50)


def test_a_second_run_repeats_no_finished_job(tmp_path, lj_teacher):
    from amala.loop.distillation import distil

    spec = tiny_spec()
    first = distil(spec, tmp_path)
    assert [(r["composition"], r["generator"]) for r in first] == [
        ("Li2S:0.75;P2S5:0.25", "md"), ("Li2S:0.75;P2S5:0.25", "validation"),
        ("Li2S:0.75;P2S5:0.25", "synthetic"), ("Li2S:0.75;P2S5:0.25", "hot"), ("Li2S:0.7;P2S5:0.3", "md")]
    assert distil(spec, tmp_path) == []


def test_jobs_run_side_by_side_on_the_campaigns_executor(tmp_path, lj_teacher, monkeypatch):
    """With processes or Dask, each job goes through the executor's `run` (here one that runs it in the
    calling thread: the Lennard-Jones teacher is patched into this process only), `workers` at a time,
    and the executor is closed after the last wave."""
    import threading

    from amala.loop import distillation
    from amala.loop.config import ExecutionSpec
    from amala.loop.executors import InlineExecutor

    seen, closed = [], []

    class Recording(InlineExecutor):
        def run(self, fn, *args, what="a job"):
            seen.append((what, threading.current_thread().name))
            return fn(*args)

        def close(self, cancel=False):
            closed.append(cancel)

    monkeypatch.setattr(distillation, "build_executor", lambda execution: Recording())
    results = distillation.distil(tiny_spec(), tmp_path, execution=ExecutionSpec(task_runner="processes", workers=2))
    assert len(results) == 5 and closed == [False]
    assert sorted(what for what, _ in seen)[:2] == ["the hot job of glass 0", "the md job of glass 0"]
    assert all(thread != "MainThread" for _, thread in seen)
    assert distillation.distil(tiny_spec(), tmp_path, execution=ExecutionSpec(task_runner="processes")) == []


def test_jobs_run_on_a_dask_scheduler(tmp_path, lj_teacher):
    """`amala potential distill --dask ADDRESS`: the jobs go to an existing Dask scheduler. Its workers
    here are threads of this process (`processes=False`), the only way they see the patched teacher."""
    from distributed import LocalCluster

    from amala.loop.config import ExecutionSpec
    from amala.loop.distillation import distil

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        results = distil(tiny_spec(), tmp_path, execution=ExecutionSpec(task_runner="dask", workers=2,
                                                                       address=cluster.scheduler_address))
    assert sorted((r["composition"], r["generator"]) for r in results) == sorted([
        ("Li2S:0.75;P2S5:0.25", "md"), ("Li2S:0.75;P2S5:0.25", "validation"),
        ("Li2S:0.75;P2S5:0.25", "synthetic"), ("Li2S:0.75;P2S5:0.25", "hot"), ("Li2S:0.7;P2S5:0.3", "md")])
    assert distil(tiny_spec(), tmp_path) == []  # done on the cluster, skipped here


def test_the_command_refuses_a_bad_config_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from amala.flows.cli import app

    bad = tmp_path / "distill.yaml"
    bad.write_text("compositions: [{composition: 'Li2S:1', family: x, density_g_cm3: -1}]\n")
    result = CliRunner().invoke(app, ["potential", "distill", str(bad), "--workdir", str(tmp_path)])
    assert result.exit_code == 2 and "density_g_cm3" in result.output and len(result.output.strip().splitlines()) == 1


def test_training_sets_keep_held_out_glasses_out_and_validation_apart(tmp_path, lj_teacher):
    from amala.oracles.mlip.distilled import heldout_errors, training_sets

    spec = tiny_spec()
    for wave in jobs(spec):
        for job in wave:
            run_job(spec, job, tmp_path)
    train, val = training_sets(spec, tmp_path, thin=5)
    assert len(train) == len(range(0, 21, 5)) + 2 * 4 + 4  # md thinned, synthetic, hot
    assert len(val) == 3 and not {f.info["frame_id"] for f in train} & {f.info["frame_id"] for f in val}
    assert all(f.get_chemical_formula() != "Li14P4S15" for f in train + val)  # 70:30, the held-out glass
    rows = heldout_errors(LJTeacher(TeacherSpec()).calculator(), spec, tmp_path)
    assert {(r["composition"], r["T_K"], r["melt"]) for r in rows} == {("Li2S:0.7;P2S5:0.3", 1200.0, True),
                                                                     ("Li2S:0.7;P2S5:0.3", 600.0, False)}
    assert all(r["force_mae_meV_A"] < 1e-3 for r in rows)  # the teacher itself: no error (extxyz rounding)


def test_workers_end_with_a_killed_run(tmp_path):
    """A killed `distill` leaves no worker appending to the stores its resume will use."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "run.py"
    script.write_text(  # the campaign's process executor, which `distil` runs its jobs on
        "import os, time\n"
        "from amala.loop.executors import ProcessExecutor\n"
        "if __name__ == '__main__':\n"
        "    executor = ProcessExecutor(1)\n"
        "    print(executor.run(os.getpid), flush=True)\n"
        "    executor._current().submit(time.sleep, 60)\n"
        "    time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    for _ in range(50):
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError("the worker outlived its killed parent")
