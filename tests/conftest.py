"""Fixtures and helpers shared by the test modules: torch in float64, the error
format's ``raises_about``, ``run_cli`` (a command in this process), and
``--slow-over`` (which tests make ``make test-fast`` slow)."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture
def torch_float64() -> Iterator[None]:
    """torch's default dtype float64 for one test, as the references compute
    (torch keeps some scalar state, NAdam's mu_product, in the default dtype).
    A module uses it with ``pytestmark = pytest.mark.usefixtures("torch_float64")``."""
    import torch

    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.fixture(autouse=True)
def _registries_as_they_were() -> Iterator[None]:
    """Each test leaves the names it registered behind it: the optimizers,
    presets, models, datasets and workloads a plugin added, the plugin modules and
    ``$GDLAB_PLUGINS``. Without this a later test in the same worker process saw a
    plugin's ``mylion`` among the known optimizers, and failed or not by the order
    pytest-xdist dealt the tests."""
    from gdlab import optim, plugins
    from gdlab.data.registry import DATASETS
    from gdlab.lab.workloads import WORKLOADS
    from gdlab.models.registry import MODELS

    tables = [optim.REGISTRY, optim.PRESETS] + [
        r._entries for r in (MODELS, DATASETS, WORKLOADS)
    ]
    saved = [dict(table) for table in tables]
    listed = os.environ.get(plugins.ENV)
    modules = set(sys.modules)
    yield
    for table, before in zip(tables, saved, strict=True):
        table.clear()
        table.update(before)
    if listed is None:
        os.environ.pop(plugins.ENV, None)
    else:
        os.environ[plugins.ENV] = listed
    for name in set(sys.modules) - modules:
        if name.startswith("gdlab_plugin_"):  # loaded again by the next test
            del sys.modules[name]


def raises_about(
    owner: str,
    field: str,
    *,
    got: str | None = None,
    error: type[Exception] = ValueError,
) -> pytest.RaisesExc[Exception]:
    """``pytest.raises`` for gdlab's one error format, ``Owner: field must be ...,
    got X``: it asserts who refused which field (and, given ``got``, the value the
    message ends with), not the words between, so rewording a message breaks no
    test. Used as ``with raises_about("Adam", "betas[0]"):``."""
    pattern = rf"^{re.escape(owner)}: {re.escape(field)} must "
    if got is not None:
        pattern += rf".*, got {re.escape(got)}$"
    return pytest.raises(error, match=pattern)


def write_checkpoint(path: Path, arrays: Mapping[str, Any], meta: Any) -> Path:
    """Write a checkpoint file as an editor would, past ``checkpoint.save`` (which
    takes only a valid :class:`~gdlab.checkpoint.CheckpointMeta`): any JSON (bare
    NaN too), any arrays."""
    from gdlab import checkpoint

    text = json.dumps(meta, allow_nan=True).encode()
    with open(path, "wb") as f:
        np.savez(f, **arrays, **{checkpoint.META: np.frombuffer(text, np.uint8)})
    return path


AS_FROM_A_TERMINAL = (
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from gdlab.cli import main; main(prog_name='gdlab')"
)
"""``gdlab`` as a terminal starts it, where Ctrl-C raises KeyboardInterrupt: a child
inherits an ignored SIGINT, and pytest-xdist's workers ignore it (the CI runs of
6 Dec 2026 hung here for 60 s)."""


def run_cli(*args: str) -> tuple[int, str, str]:
    """``gdlab ARGS`` in this process: exit status, stdout, stderr; an exception
    other than the exit is raised with its traceback (a bug, not a usage error)."""
    from click.testing import CliRunner

    from gdlab.cli import main

    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


# --- make test-fast: which tests are slow ---------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow-over",
        type=float,
        default=None,
        metavar="SECONDS",
        help="after the run, list the tests not marked slow whose call took longer "
        "(candidates for @pytest.mark.slow; make test-fast passes 5)",
    )


_SLOW: dict[str, Any] = {"limit": None, "found": []}
"""--slow-over's limit and the (seconds, test) pairs over it."""


def pytest_configure(config: pytest.Config) -> None:
    _SLOW["limit"] = config.getoption("--slow-over")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    limit = _SLOW["limit"]
    over = limit is not None and report.when == "call" and report.duration > limit
    if over and "slow" not in report.keywords:
        _SLOW["found"].append((report.duration, report.nodeid))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _SLOW["found"]:
        return
    terminalreporter.section(f"tests over {_SLOW['limit']:g} s not marked slow")
    for seconds, nodeid in sorted(_SLOW["found"], reverse=True):
        terminalreporter.write_line(f"{seconds:6.1f}s {nodeid}")


# --- make test-fast: the tests it leaves to `make test` ---------------------------

FAST_LEAVES_OUT = (
    # each took over 5 s (at a load of about 8 on 2 cores, 10:32 UTC 2026-12-06,
    # `pytest -m "not slow" --slow-over 5`): worker processes, Ray, subprocesses,
    # whole commands, calibrations, the playground's concurrency
    "tests/data/test_gzip_bomb.py::test_a_gzip_bomb_folder_is_refused_in_little_memory",
    "tests/data/test_gzip_bomb.py::test_the_bound_is_proportional_to_the_gzip_size",
    "tests/lab/test_benchmark.py::test_a_suite_runs_every_workload_and_scores_it_as_algoperf",
    "tests/lab/test_benchmark.py::test_calibration_sets_targets_from_the_baselines_and_records_how",
    "tests/lab/test_calibration.py::test_a_a_comparisons_are_rarely_called_different",
    "tests/lab/test_calibration.py::test_a_range_three_decades_too_low_is_called_worse",
    "tests/lab/test_calibration.py::test_repeated_comparisons_never_contradict_each_other",
    "tests/lab/test_compare.py::test_a_failed_write_leaves_the_previous_outputs_whole",
    "tests/lab/test_compare.py::test_selection_equals_a_plain_sweep_over_the_same_points",
    "tests/lab/test_compare.py::test_test_labels_change_only_the_test_numbers",
    "tests/lab/test_compare_defaults.py::test_hyper_fixes_a_setting_where_an_optimizer_has_it",
    "tests/lab/test_examples.py::test_every_example_formats_and_is_listed",
    "tests/lab/test_explain.py::test_explain_runs_a_plugins_optimizer",
    "tests/lab/test_studies.py::test_a_rerun_skips_finished_runs_and_a_changed_setting_reruns",
    "tests/lab/test_studies.py::test_interpolation_at_0_and_1_is_the_two_solutions",
    "tests/lab/test_sweep.py::test_a_killed_parent_loses_no_finished_run_and_resumes_exactly",
    "tests/lab/test_sweep.py::test_a_killed_population_loses_no_finished_member_and_resumes_exactly",
    "tests/lab/test_sweep.py::test_a_killed_worker_stops_the_sweep_and_a_rerun_completes_it",
    "tests/lab/test_sweep.py::test_sharpness_grows_with_the_batch_size",
    "tests/lab/test_sweep_inputs.py::test_a_plugin_whose_code_changed_is_refused",
    "tests/lab/test_sweep_inputs.py::test_compare_into_the_same_out_with_other_data_is_one_line",
    "tests/lab/test_sweep_pool.py::test_more_workers_are_never_slower_than_one[by-the-rule]",
    "tests/lab/test_sweep_pool.py::test_more_workers_are_never_slower_than_one[processes]",
    "tests/lab/test_sweep_pool.py::test_workers_stay_warm_across_calls",
    "tests/lab/test_sweep_populations.py::test_members_come_back_as_their_runs_alone",
    "tests/lab/test_tuning.py::test_a_trials_hyperparameters_come_in_the_order_of_its_axes",
    "tests/lab/test_workloads.py::test_a_loss_judged_workload_is_benchmarked_on_its_loss",
    "tests/models/test_torch.py::test_a_run_spec_names_the_cnn_and_a_torch_optimizer",
    "tests/models/test_torch.py::test_fmnist_2c2d_has_deepobs_architecture_and_initialization",
    "tests/models/test_torch.py::test_the_nets_register_without_loading_torch",
    "tests/optim/test_kernel.py::test_a_plugin_kernel_compiles_once_per_machine_under_any_module_name",
    "tests/test_bench_common.py::test_a_compilation_inside_the_timed_region_fails_it",
    "tests/test_cli_errors.py::test_a_size_limit_during_train_is_one_line",
    "tests/test_cli_errors.py::test_a_size_limit_on_the_sweep_store_is_one_line",
    "tests/test_cli_errors.py::test_a_size_limit_while_drawing_a_schedule_keeps_the_old_picture",
    "tests/test_cli_errors.py::test_one_commands_folder_is_not_anothers",
    "tests/test_cli_examples.py::test_every_listed_figure_draws_a_png[batch-modes]",
    "tests/test_cli_examples.py::test_every_listed_figure_draws_a_png[regression-surface]",
    "tests/test_cli_examples.py::test_mnist_curves_draws_a_course_mnist_run",
    "tests/test_cli_folders.py::test_a_second_comparison_leaves_the_first_intact",
    "tests/test_cli_npz.py::test_benchmark_runs_a_user_suite_on_an_npz",
    "tests/test_cli_npz.py::test_compare_and_sweep_train_an_npz_in_worker_processes",
    "tests/test_cli_npz.py::test_sweep_reads_an_npz_in_ray_workers",
    "tests/test_cli_npz.py::test_train_fits_a_regression_npz[linear]",
    "tests/test_cli_npz.py::test_train_fits_a_regression_npz[mlp:4-8-1]",
    "tests/test_cli_plugin.py::test_a_plugin_path_with_a_colon_reaches_the_worker_processes",
    "tests/test_cli_plugin.py::test_an_unknown_optimizer_is_named_beside_a_plugin_that_did_not_load",
    "tests/test_cli_plugin.py::test_compare_runs_a_plugin_in_worker_processes",
    "tests/test_cli_plugin.py::test_two_plugin_files_with_one_stem_are_both_loaded",
    "tests/test_cli_runs.py::test_benchmark_prints_the_profile_table",
    "tests/test_cli_runs.py::test_resume_checks_its_options_against_the_stored_run",
    "tests/test_cli_study.py::test_batch_size_prints_a_table_writes_a_report_and_resumes",
    "tests/test_cli_sweep.py::test_sweep_prints_a_table_writes_a_report_and_resumes",
    "tests/test_cli_train_lock.py::test_a_second_train_into_a_folder_being_written_is_refused",
    "tests/test_cli_workloads.py::test_benchmark_takes_the_plugin_model_and_dataset_in_a_user_suite",
    "tests/test_docs.py::test_docstring_examples_run[gdlab.surfaces.grid]",
    "tests/test_docs.py::test_every_public_value_has_an_attribute_docstring_where_it_is_defined",
    "tests/test_example_own_data.py::test_the_example_compares_two_optimizers_on_its_npz",
    "tests/test_i18n.py::test_every_message_of_the_course_commands_speaks_korean[figure",
    "tests/test_playground.py::test_a_closed_connections_heavy_request_is_not_computed_to_the_end",
    "tests/test_playground.py::test_a_pages_request_goes_before_waiting_requests_of_no_page",
    "tests/test_playground.py::test_the_newest_request_of_a_page_cancels_its_older_ones",
    "tests/test_playground.py::test_the_step_and_run_caps",
    "tests/test_plugin_lion.py::test_a_sign_bug_fails_with_a_report_naming_the_difference",
    "tests/test_plugin_lion.py::test_lion_registers_and_matches_lion_pytorch",
    "tests/test_plugins.py::test_a_worker_process_loads_the_plugins_before_it_builds_a_run",
    "tests/test_properties.py::test_any_pair_text_is_a_value_or_one_line",
    "tests/test_report_convention.py::test_a_new_figure_written_only_with_a_path[plot_test_metrics]",
    "tests/test_report_landscape.py::test_neither_module_loads_the_other_when_imported",
    "tests/test_testing.py::test_a_flag_bug_and_an_evaluation_point_bug_are_caught",
    "tests/test_testing.py::test_torch_is_imported_only_for_a_reference",
    "tests/test_train.py::test_a_plain_function_lr_resumes_in_another_process",
    # each over 1 s on the quiet machine (13:40 UTC 2026-12-06, `--durations`),
    # when the suite's bytecode was kept and make test-fast took 62 s
    "tests/lab/test_examples.py::test_batch_modes_figure_holds_the_paths_and_costs",
    "tests/lab/test_studies.py::test_edge_of_stability_runs_that_g_rounds_alike_keep",
    "tests/test_messages.py::test_a_zero_learning_rate_is_warned_about",
    "tests/test_notebook.py::test_the_widget_playground_redraws_on_every_change",
    "tests/test_playground.py::test_a_partial_or_stalled_body_ends_quietly",
    "tests/test_testing.py::test_a_reference_with_other_names_takes_a_mapping_and",
    "tests/test_weights.py::test_the_model_file_holds_x_scores_what_the_history_says",
    # each over 0.45 s in two quiet runs (15:50 UTC 2026-12-06, `--durations`),
    # when make test-fast took 50-62 s
    "tests/data/test_datasets.py::test_real_fashion_mnist",
    "tests/data/test_idx.py::test_a_gzip_bomb_is_refused_before_it_expands",
    "tests/lab/test_compare.py::test_results_are_reproducible_and_resume_reruns_nothing",
    "tests/lab/test_compare.py::test_select_val_loss_with_diverged_trials_finishes",
    "tests/lab/test_explain.py::test_rmsprop_columns_follow_the_printed_formula",
    "tests/lab/test_studies.py::test_edge_of_stability_measures_the_dense_lambda_max_and_writes_results",
    "tests/lab/test_sweep.py::test_relu_sharpness_is_the_exact_hessian_of_autograd",
    "tests/test_bench_common.py::test_a_warmed_up_optimizer_steps_without_compiling",
    "tests/test_cli_runs.py::test_train_writes_history_plots_and_checkpoints_then_resumes",
    "tests/test_cli_study.py::test_a_study_folder_is_not_another_commands",
    "tests/test_cli_sweep.py::test_a_changed_setting_on_rerun_is_refused",
    "tests/test_course.py::test_an_epoch_warm_up_trains_in_its_first_epoch",
    "tests/test_notebook.py::test_import_gdlab_loads_neither_matplotlib_nor_pandas",
    "tests/test_notebook.py::test_the_compare_report_leads_with_what_the_comparison_shows",
    "tests/test_playground.py::test_200_parallel_light_requests_are_all_answered_promptly",
    "tests/test_testing.py::test_a_correct_optimizer_passes_with_and_without_a_reference",
    "tests/test_testing.py::test_each_declared_choice_gets_its_own_config",
)
"""Node ids (or their start) that ``-m "not slow"`` skips though not marked in their
file: the quick check while working leaves them to CI's whole run."""
FAST_CONFORMANCE = ("adam",)
"""The optimizers whose torch-reference and multithreaded-kernel conformance runs
stay in the fast run (the others' are marked slow: 5-54 s each under load)."""
_CONFORMANCE = tuple(
    f"tests/optim/test_conformance.py::test_{name}["
    for name in (
        "check_optimizer_passes_against_the_reference",
        "multithreaded_kernel_on_a_large_buffer",
    )
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    kept = tuple(f"{c}{name}]" for c in _CONFORMANCE for name in FAST_CONFORMANCE)
    for item in items:
        nodeid = item.nodeid
        if nodeid.startswith(FAST_LEAVES_OUT) or (
            nodeid.startswith(_CONFORMANCE) and nodeid not in kept
        ):
            item.add_marker(pytest.mark.slow)
