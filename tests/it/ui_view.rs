//! The interactive view: snapshots of every pane at fixed sizes from models
//! built by replaying recorded runs, colours that carry meaning checked on
//! the buffer cells, and the loop driven by scripted keys on a TestBackend.

use crate::common;
use vigil::core::RunId;

use std::sync::Arc;

use common::{ms, shop_model};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;
use vigil::app::{Engine, Interactive};
use vigil::config::Settings;
use vigil::core::msg::{BuildDiagnostic, ListedSuite, ListedTest, ToolExit};
use vigil::core::{update, Effect, Key, Model, Msg, Selection, Trigger};
use vigil::ui::{render, theme::Theme};

const COLOUR: Theme = Theme { colour: true };

fn draw(model: &Model, width: u16, height: u16, theme: Theme) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| render(model, f, theme)).unwrap();
    terminal.backend().buffer().clone()
}

fn text(buffer: &Buffer) -> String {
    let area = buffer.area;
    (0..area.height)
        .map(|y| {
            let line: String = (0..area.width).map(|x| buffer[(x, y)].symbol()).collect();
            line.trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn key(model: &mut Model, k: Key) -> Vec<Effect> {
    update(model, Msg::Key { key: k, at: ms(5_000) })
}

/// The effects that start run `run` with filterset `expr`: a survey of
/// the tree, then the list and the run side by side.
fn started(run: u32, expr: &str) -> Vec<Effect> {
    let filterset = Some(expr.to_owned());
    vec![
        Effect::Survey {
            run: RunId(run),
            hygiene: false,
        },
        Effect::List {
            run: RunId(run),
            filterset: filterset.clone(),
        },
        Effect::Run {
            run: RunId(run),
            filterset,
        },
    ]
}

fn keys(model: &mut Model, ks: &str) {
    for c in ks.chars() {
        key(model, Key::Char(c));
    }
}

/// Where `needle` starts on screen.
fn find(buffer: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let t = text(buffer);
    for (y, line) in t.lines().enumerate() {
        if let Some(byte) = line.find(needle) {
            return Some((line[..byte].chars().count() as u16, y as u16));
        }
    }
    None
}

#[test]
fn tests_view_after_a_run() {
    let mut model = shop_model();
    model.ui.viewport = 28;
    keys(&mut model, "j"); // onto the failed test
    insta::assert_snapshot!(text(&draw(&model, 120, 35, COLOUR)));
}

#[test]
fn failed_glyph_is_red_and_passed_is_green() {
    let model = shop_model();
    let buf = draw(&model, 120, 35, COLOUR);
    let (x, y) = find(&buf, "✗ orders::checkout").expect("failed suite first");
    assert_eq!(buf[(x, y)].fg, Color::Red);
    let (x, y) = find(&buf, "✓ money").expect("passed suite listed");
    assert_eq!(buf[(x, y)].fg, Color::Green);
}

#[test]
fn a_stale_result_is_dimmed_with_its_own_glyph_and_counted_in_the_header() {
    let mut model = shop_model();
    for t in &mut model
        .catalog
        .suites
        .iter_mut()
        .find(|s| &*s.binary_id == "money")
        .unwrap()
        .tests
    {
        t.stale = true;
    }
    let buf = draw(&model, 120, 35, COLOUR);
    let t = text(&buf);
    assert!(t.contains("◌ money"), "{t}");
    assert!(!t.contains("✓ money"), "never its old green: {t}");
    let (x, y) = find(&buf, "◌ money").unwrap();
    assert!(buf[(x, y)].modifier.contains(ratatui::style::Modifier::DIM));
    let n = model.catalog.stale_count();
    assert!(t.contains(&format!("◌ {n} stale")), "{t}");
}

#[test]
fn no_colour_theme_uses_no_colour_but_keeps_glyphs() {
    let model = shop_model();
    let buf = draw(&model, 120, 35, Theme { colour: false });
    for cell in buf.content() {
        assert_eq!(cell.fg, Color::Reset, "cell {:?}", cell.symbol());
        assert_eq!(cell.bg, Color::Reset);
    }
    let t = text(&buf);
    assert!(t.contains("✗ orders::checkout") && t.contains("✓ money") && t.contains("○ pays_by_card"));
}

#[test]
fn detail_shows_history_and_highlights_the_panic_location() {
    let mut model = shop_model();
    keys(&mut model, "j");
    let buf = draw(&model, 120, 35, COLOUR);
    let t = text(&buf);
    assert!(t.contains("orders::checkout › refund_partial"), "{t}");
    assert!(t.contains("pending ─"), "{t}");
    assert!(t.contains("→ running ─") && t.contains("→ failed"), "{t}");
    let (x, y) = find(&buf, "orders/tests/checkout.rs:11:5").expect("location shown");
    assert!(buf[(x, y)].modifier.contains(Modifier::UNDERLINED));
    assert_eq!(buf[(x, y)].fg, Color::Red);
}

#[test]
fn detail_names_the_file_with_a_cut_output_whole() {
    let mut model = shop_model();
    let suite = model.catalog.suite_index("orders::checkout").unwrap();
    let s = &mut model.catalog.suites[suite];
    let ti = s.test_index("refund_partial").unwrap();
    let f = s.tests[ti].failure.as_mut().unwrap();
    f.output_file = Some("/ws/target/vigil/test-output/refund.txt".into());
    f.output_bytes = Some(52_428_800);
    keys(&mut model, "j");
    let t = text(&draw(&model, 160, 35, COLOUR));
    assert!(
        t.contains("output: 50.0 MB in all, its head and tail below; the whole of it:"),
        "{t}"
    );
    assert!(t.contains("/ws/target/vigil/test-output/refund.txt"), "{t}");
}

#[test]
fn small_terminal_stacks_tree_over_detail() {
    let mut model = shop_model();
    keys(&mut model, "j");
    insta::assert_snapshot!(text(&draw(&model, 80, 24, COLOUR)));
}

#[test]
fn help_overlay_lists_every_key() {
    let mut model = shop_model();
    key(&mut model, Key::Char('?'));
    let t = text(&draw(&model, 120, 35, COLOUR));
    for b in vigil::ui::keymap::KEYMAP {
        assert!(t.contains(b.keys), "help lists {}", b.keys);
    }
    key(&mut model, Key::Char('x'));
    assert!(!model.ui.help, "any key closes the help");
}

#[test]
fn readme_lists_every_key() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for b in vigil::ui::keymap::KEYMAP.iter().chain(vigil::ui::keymap::INSTA_KEYMAP) {
        let row = format!("| `{}` | {} |", b.keys, b.action);
        assert!(readme.contains(&row), "README lacks the row: {row}");
    }
}

fn build_failed_model() -> Model {
    let mut model = shop_model();
    key(&mut model, Key::Char('a'));
    update(
        &mut model,
        Msg::Build {
            run: RunId(2),
            diagnostic: BuildDiagnostic {
                level: "error".into(),
                rendered: "error[E0308]: mismatched types\n --> money/src/lib.rs:4:5\n  |\n4 |     \"forty-two\"\n  |     ^^^^^^^^^^^ expected `u32`, found `&str`".into(),
            },
        },
    );
    update(
        &mut model,
        Msg::ListFailed {
            run: RunId(2),
            exit: ToolExit::BuildFailed,
            stderr: String::new(),
            at: ms(6_000),
        },
    );
    model
}

#[test]
fn build_errors_replace_the_tree_and_say_which_results_are_shown() {
    let model = build_failed_model();
    let buf = draw(&model, 120, 35, COLOUR);
    let t = text(&buf);
    assert!(t.contains("build failed — showing results of run 1"), "{t}");
    assert!(t.contains("Build failed — cargo's diagnostics"), "{t}");
    assert!(!t.contains("refund_partial"), "the tree is replaced");
    let (x, y) = find(&buf, "error[E0308]").unwrap();
    assert_eq!(buf[(x, y)].fg, Color::Red);
    insta::assert_snapshot!(t);
}

#[test]
fn r_reruns_exactly_the_selected_test() {
    let mut model = shop_model();
    keys(&mut model, "j");
    let fx = key(&mut model, Key::Char('r'));
    assert_eq!(fx, started(2, "binary_id(orders::checkout) & test(=refund_partial)"));
    let run = model.current_run().unwrap();
    assert_eq!(run.trigger, Trigger::Key);
    assert_eq!(
        run.selection.reasons(),
        vec!["rerun of orders::checkout refund_partial (key r)".to_string()]
    );
}

#[test]
fn r_on_a_suite_reruns_the_suite_and_a_during_a_run_restarts() {
    let mut model = shop_model();
    let fx = key(&mut model, Key::Char('r'));
    assert_eq!(fx, started(2, "binary_id(orders::checkout)"));
    let fx = key(&mut model, Key::Char('a'));
    assert_eq!(
        fx,
        vec![Effect::Cancel { run: RunId(2) }],
        "a run in flight is stopped first"
    );
    let fx = update(
        &mut model,
        Msg::ListFailed {
            run: RunId(2),
            exit: ToolExit::Killed,
            stderr: String::new(),
            at: ms(7_000),
        },
    );
    // A full run on the listing kept from run 1: no list of its own.
    assert!(fx.contains(&Effect::Run {
        run: RunId(3),
        filterset: None
    }));
    assert!(!fx.iter().any(|e| matches!(e, Effect::List { .. })));
}

#[test]
fn filter_and_failures_only_narrow_the_tree() {
    let mut model = shop_model();
    key(&mut model, Key::Char('/'));
    keys(&mut model, "slow");
    key(&mut model, Key::Enter);
    assert!(!model.ui.filter_editing);
    let rows = vigil::core::tree::rows(&model);
    let labels: Vec<&str> = rows.iter().map(|r| r.label).collect();
    assert_eq!(labels, vec!["money", "tests", "slow_rounding"]);
    key(&mut model, Key::Esc);
    key(&mut model, Key::Char('f'));
    let rows = vigil::core::tree::rows(&model);
    let labels: Vec<&str> = rows.iter().map(|r| r.label).collect();
    assert_eq!(labels, vec!["orders::checkout", "refund_partial"]);
}

#[test]
fn enter_folds_and_movement_stays_in_bounds() {
    let mut model = shop_model();
    model.ui.viewport = 5;
    let before = vigil::core::tree::rows(&model).len();
    key(&mut model, Key::Enter); // fold the failed suite
    assert_eq!(vigil::core::tree::rows(&model).len(), before - 4);
    key(&mut model, Key::Char('G'));
    let last = vigil::core::tree::rows(&model).len() - 1;
    let selected = |m: &Model| vigil::core::tree::selected_index(&vigil::core::tree::rows(m), m);
    assert_eq!(selected(&model), last);
    key(&mut model, Key::Char('j'));
    assert_eq!(selected(&model), last);
    key(&mut model, Key::Char('g'));
    update(&mut model, Msg::Scroll { delta: 3 });
    assert_eq!(
        vigil::core::tree::selected_index(&vigil::core::tree::rows(&model), &model),
        3
    );
    assert_eq!(key(&mut model, Key::Char('q')), vec![Effect::Quit]);
}

fn big_suites(n_binaries: usize, per: usize) -> Vec<ListedSuite> {
    (0..n_binaries)
        .map(|b| ListedSuite {
            binary_id: Arc::from(format!("crate_{b}::it_{b}")),
            package: format!("crate_{b}"),
            binary_name: format!("it_{b}"),
            kind: "test".into(),
            binary_path: format!("/big/it_{b}").into(),
            tests: (0..per)
                .map(|t| ListedTest {
                    name: format!("mod_{}::case_{t}", t % 7),
                    ignored: false,
                    selected: true,
                })
                .collect(),
        })
        .collect()
}

/// A model whose first run has listed `suites` and not started a test.
fn listed_model(suites: Vec<ListedSuite>) -> Model {
    let mut model = Model::default();
    update(
        &mut model,
        Msg::RunRequested {
            trigger: Trigger::Manual,
            selection: Selection::All,
            at: ms(0),
        },
    );
    update(
        &mut model,
        Msg::Listed {
            run: RunId(1),
            suites,
            at: ms(0),
        },
    );
    model
}

#[test]
fn ten_thousand_tests_scroll_to_the_end() {
    let mut model = listed_model(big_suites(20, 500));
    for s in 0..20 {
        model.ui.folds.insert(
            vigil::core::RowKey::Suite(Arc::from(format!("crate_{s}::it_{s}"))),
            true,
        );
    }
    model.ui.viewport = 28;
    key(&mut model, Key::End);
    let t = text(&draw(&model, 120, 35, COLOUR));
    let rows = vigil::core::tree::rows(&model).len();
    assert!(rows > 10_000);
    assert!(t.contains(&format!("Tests {rows}/{rows}")), "{t}");
    let last = vigil::core::tree::rows(&model).last().unwrap().label.to_owned();
    assert!(t.contains(&format!("    · {last} ")), "the last row is on screen: {t}");
}

#[test]
fn scripted_loop_on_a_test_backend() {
    let ws = vigil::adapters::workspace::parse_metadata(&common::recorded("shop_metadata.json")).unwrap();
    let settings =
        Settings::parse(&std::fs::read_to_string(common::fixture("shop").join("vigil.toml")).unwrap()).unwrap();
    let engine = Engine::dry(ws, settings);
    let terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let mut view = Interactive::new(engine, terminal, COLOUR);
    assert!(!view.handle(Msg::RunRequested {
        trigger: Trigger::Manual,
        selection: Selection::All,
        at: ms(0)
    }));
    let suites = vigil::adapters::nextest_json::parse_list(&common::recorded("shop_list.json")).unwrap();
    view.handle(Msg::Listed {
        run: RunId(1),
        suites,
        at: ms(10),
    });
    view.draw().unwrap();
    assert_eq!(
        view.engine.model.ui.viewport, 25,
        "the loop tells the core how many rows fit"
    );
    let t = text(view.terminal.backend().buffer());
    assert!(t.contains("· money"), "listed tests show pending: {t}");
    assert!(t.contains("0/8"), "{t}");
    view.handle(Msg::Key {
        key: Key::Char('r'),
        at: ms(20),
    });
    view.handle(Msg::RunExited {
        run: RunId(1),
        exit: ToolExit::Killed,
        stderr: String::new(),
        at: ms(30),
    });
    assert_eq!(
        view.engine.recorded.clone().unwrap(),
        vec![
            Effect::List {
                run: RunId(1),
                filterset: None
            },
            Effect::Run {
                run: RunId(1),
                filterset: None
            },
            Effect::Doctests {
                run: RunId(1),
                packages: vec!["money".into(), "orders".into()],
                filters: vec![]
            },
            // Stops nextest and the doc lane beside it.
            Effect::Cancel { run: RunId(1) },
            Effect::List {
                run: RunId(2),
                filterset: Some("binary_id(money)".into())
            },
            Effect::Run {
                run: RunId(2),
                filterset: Some("binary_id(money)".into())
            },
        ]
    );
    assert!(
        view.handle(Msg::Key {
            key: Key::Char('q'),
            at: ms(40)
        }),
        "q quits"
    );
}

/// The recording engine's adapters write nothing: a whole run through it
/// leaves its workspace's target directory as it was (absent).
#[test]
fn a_recording_engine_writes_nothing() {
    let mut ws = vigil::adapters::workspace::parse_metadata(&common::recorded("shop_metadata.json")).unwrap();
    let target = common::state_dir().join("target-of-a-dry-run");
    let _ = std::fs::remove_dir_all(&target);
    ws.target_dir = target.clone();
    let mut engine = Engine::dry(ws, Settings::default());
    let suites = vigil::adapters::nextest_json::parse_list(&common::recorded("shop_list.json")).unwrap();
    let mut said = Vec::new();
    for msg in [
        Msg::RunRequested {
            trigger: Trigger::Manual,
            selection: Selection::All,
            at: ms(0),
        },
        Msg::Listed {
            run: RunId(1),
            suites,
            at: ms(10),
        },
        Msg::RunExited {
            run: RunId(1),
            exit: ToolExit::Killed,
            stderr: String::new(),
            at: ms(30),
        },
    ] {
        said.extend(engine.apply(msg));
    }
    assert!(
        said.iter().any(
            |o| matches!(o, vigil::core::effect::Outward::Emit(r) if matches!(**r, vigil::core::Report::RunFinished(_)))
        ),
        "the run ended: {said:?}"
    );
    assert!(engine
        .recorded
        .as_ref()
        .is_some_and(|r| r.iter().any(|e| matches!(e, Effect::List { .. }))));
    assert!(!target.exists(), "nothing was written under {}", target.display());
}

#[test]
fn a_test_over_its_budget_is_red_and_marked() {
    let mut model = shop_model();
    model.rules.budgets.overrides.push(vigil::core::budget::Override {
        target: vigil::core::budget::Target::Test,
        pattern: vigil::core::glob::Glob::new("money::tests::slow_*"),
        limit: ms(500),
    });
    model
        .ui
        .folds
        .insert(vigil::core::RowKey::Suite(Arc::from("money")), true);
    let buf = draw(&model, 120, 35, COLOUR);
    let t = text(&buf);
    let line = t.lines().find(|l| l.contains("slow_rounding")).unwrap();
    assert!(line.contains("1.00 s▲"), "{line}");
    let (x, y) = find(&buf, "1.00 s▲").unwrap();
    assert_eq!(buf[(x, y)].fg, Color::Red);
    let quick = t.lines().find(|l| l.contains("✓ adds")).unwrap();
    assert!(!quick.contains('▲') && !quick.contains('△'), "{quick}");
}

#[test]
fn time_left_comes_from_history() {
    let mut model = listed_model(big_suites(1, 3));
    for t in 0..3 {
        let h = model.history.entry("crate_0::it_0", &format!("mod_{t}::case_{t}"));
        for _ in 0..5 {
            h.record(vigil::core::TestState::Passed, Some(ms(4_000)), "tree");
        }
    }
    let ev = |name: &str, kind| vigil::core::TestEvent {
        binary_id: Arc::from("crate_0::it_0"),
        name: name.into(),
        kind,
    };
    update(
        &mut model,
        Msg::Test {
            run: RunId(1),
            event: ev("mod_0::case_0", vigil::core::TestEventKind::Started { attempt: 1 }),
            at: ms(0),
        },
    );
    update(
        &mut model,
        Msg::Test {
            run: RunId(1),
            event: ev(
                "mod_0::case_0",
                vigil::core::TestEventKind::Passed {
                    exec_time: Some(ms(1_000)),
                },
            ),
            at: ms(1_000),
        },
    );
    update(
        &mut model,
        Msg::Test {
            run: RunId(1),
            event: ev("mod_1::case_1", vigil::core::TestEventKind::Started { attempt: 1 }),
            at: ms(1_000),
        },
    );
    update(&mut model, Msg::Tick { now: ms(2_000) });
    // case_1 has used 1 s of its usual 4 s; case_2 has 4 s ahead: 7 s over one runner.
    let t = text(&draw(&model, 120, 35, COLOUR));
    assert!(t.lines().next().unwrap().contains("~7.00 s left"), "{t}");
}

fn shop_model_with_history() -> Model {
    let mut model = shop_model();
    for _ in 0..4 {
        common::replay_shop(&mut model);
    }
    model
}

#[test]
fn budgets_view_shows_suites_against_their_budgets() {
    let mut model = shop_model_with_history();
    model.rules.budgets.overrides.push(vigil::core::budget::Override {
        target: vigil::core::budget::Target::Test,
        pattern: vigil::core::glob::Glob::new("money::tests::slow_*"),
        limit: ms(500),
    });
    common::replay_shop(&mut model);
    key(&mut model, Key::Char('3'));
    let buf = draw(&model, 120, 35, COLOUR);
    let t = text(&buf);
    assert!(t.contains("[3 Budgets]"), "{t}");
    let over = t
        .lines()
        .find(|l| l.contains("▲ money › tests::slow_rounding"))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(over.contains("/ 0.50 s"), "{over}");
    insta::assert_snapshot!(t);
}

#[test]
fn history_view_shows_trends_and_slowest_tests() {
    let mut model = shop_model_with_history();
    key(&mut model, Key::Char('4'));
    let t = text(&draw(&model, 120, 35, COLOUR));
    assert!(t.contains("the last 5 runs"), "{t}");
    let slowest = t.lines().skip_while(|l| !l.contains("slowest tests")).nth(1).unwrap();
    assert!(slowest.contains("money › tests::slow_rounding"), "{t}");
    insta::assert_snapshot!(t);
    key(&mut model, Key::Char('1'));
    assert!(text(&draw(&model, 120, 35, COLOUR)).contains("[1 Tests]"));
}

#[test]
fn history_view_title_says_how_much_is_kept_and_what_was_pruned() {
    let mut model = shop_model_with_history();
    model.history.kept = Some(vigil::core::history::Kept {
        runs: 1000,
        bytes: 12_900_000,
        keep: "the last 1000 runs".into(),
        pruned: 3,
    });
    key(&mut model, Key::Char('4'));
    let t = text(&draw(&model, 120, 35, COLOUR));
    assert!(
        t.contains("History · 1000 runs kept (the last 1000 runs) · 12.3 MB · 3 older pruned"),
        "{t}"
    );
}

#[test]
fn coverage_view_shows_the_kept_figures_while_the_first_run_goes_on() {
    use vigil::core::coverage::{Coverage, FileCoverage};
    let mut model = shop_model();
    model.coverage = Some(Coverage {
        files: vec![FileCoverage {
            path: "money/src/lib.rs".into(),
            summary_lines: Some((10, 8)),
            ..FileCoverage::default()
        }],
        branches_measured: false,
    });
    model.coverage_run = None;
    keys(&mut model, "2");
    let t = text(&draw(&model, 120, 35, COLOUR));
    assert!(!t.contains("80.00"), "nothing kept, nothing this session: {t}");
    model.kept_coverage_run = Some(41);
    let t = text(&draw(&model, 120, 35, COLOUR));
    assert!(t.contains("from the history (run #41, an earlier session)"), "{t}");
    assert!(t.contains("80.00"), "the kept figures: {t}");
    model.coverage_run = Some(RunId(2));
    let t = text(&draw(&model, 120, 35, COLOUR));
    assert!(!t.contains("from the history"), "this session's own: {t}");
}

#[test]
fn coverage_view_shows_gauges_missed_thresholds_first_and_uncovered_lines() {
    use vigil::core::coverage::{Coverage, FileCoverage, Threshold};
    let mut model = shop_model();
    let file = |path: &str, lines: &[(u32, u64)]| FileCoverage {
        path: path.into(),
        lines: lines.iter().copied().collect(),
        ..FileCoverage::default()
    };
    model.coverage = Some(Coverage {
        files: vec![
            file("money/src/lib.rs", &[(1, 1), (2, 1), (3, 1), (4, 1)]),
            file("orders/src/lib.rs", &[(1, 1), (2, 0), (3, 0), (5, 0), (6, 1)]),
        ],
        branches_measured: false,
    });
    model.coverage_run = Some(RunId(1));
    model.rules.coverage = vec![
        Threshold {
            path: None,
            lines: Some(70.0),
            branches: None,
        },
        Threshold {
            path: Some(vigil::core::glob::Glob::new("orders/*")),
            lines: Some(80.0),
            branches: None,
        },
    ];
    key(&mut model, Key::Char('2'));
    let buf = draw(&model, 120, 35, COLOUR);
    let t = text(&buf);
    assert!(t.contains("[2 Coverage]"), "{t}");
    assert!(
        t.contains("66.67 %") && t.contains("min 70 ✗"),
        "overall 6/9 against 70: {t}"
    );
    let rows: Vec<&str> = t.lines().filter(|l| l.contains("src/lib.rs")).collect();
    assert!(
        rows[0].contains("✗orders/src/lib.rs") && rows[0].contains("▌2–5"),
        "the missed rule first, with its uncovered lines: {t}"
    );
    let (x, y) = find(&buf, "✗orders/src/lib.rs").unwrap();
    assert_eq!(buf[(x, y)].fg, Color::Red);
    insta::assert_snapshot!(t);
}

#[test]
fn coverage_source_view_marks_uncovered_lines_and_missing_branches() {
    use vigil::core::coverage::{Coverage, FileCoverage};
    let mut model = shop_model();
    model.coverage = Some(Coverage {
        files: vec![FileCoverage {
            path: "money/src/lib.rs".into(),
            lines: [(3, 2), (4, 2), (5, 2), (36, 0), (37, 0), (38, 0)]
                .into_iter()
                .collect(),
            branches: vec![(37, 0, None), (37, 1, Some(2))],
            ..FileCoverage::default()
        }],
        branches_measured: true,
    });
    model.coverage_run = Some(RunId(1));
    key(&mut model, Key::Char('2'));
    let fx = key(&mut model, Key::Enter);
    assert_eq!(
        fx,
        vec![Effect::LoadSource {
            path: "money/src/lib.rs".into()
        }]
    );
    let source = std::fs::read_to_string(common::fixture("shop").join("money/src/lib.rs")).unwrap();
    update(
        &mut model,
        Msg::SourceLoaded {
            path: "money/src/lib.rs".into(),
            text: Some(source),
        },
    );
    assert_eq!(model.ui.source_scroll, 32, "opens at the first uncovered range");
    let buf = draw(&model, 120, 35, COLOUR);
    let t = text(&buf);
    let line37 = t
        .lines()
        .find(|l| l.contains("   37 "))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(line37.contains("▌") && line37.contains("◆ true never"), "{line37}");
    let (x, y) = find(&buf, "◆ true never").unwrap();
    assert_eq!(buf[(x, y)].fg, Color::Yellow);
    key(&mut model, Key::Esc);
    assert!(model.ui.source.is_none());
}

/// With coverage maps: how many tests reach each line, the selected
/// line's tests at the foot, Enter goes to the first, `o` comes back.
#[test]
fn coverage_source_view_counts_the_tests_that_reach_each_line() {
    use vigil::core::coverage::{Coverage, FileCoverage};
    use vigil::core::testmap::{FileMap, TestMap};
    let mut model = shop_model();
    model.coverage = Some(Coverage {
        files: vec![FileCoverage {
            path: "money/src/lib.rs".into(),
            lines: [(3, 2), (4, 2), (5, 2)].into_iter().collect(),
            ..FileCoverage::default()
        }],
        branches_measured: false,
    });
    model.coverage_run = Some(RunId(1));
    let map = |lines: Vec<[u32; 2]>| TestMap {
        files: [(
            "money/src/lib.rs".to_owned(),
            FileMap {
                hash: "h".into(),
                lines,
                branches: vec![],
            },
        )]
        .into(),
        partial: None,
        shared: None,
        failed: false,
        reads: None,
    };
    model.test_maps.merge(vec![
        (
            vigil::core::testmap::TestId::new("money", "tests::adds"),
            map(vec![[3, 5]]),
        ),
        (
            vigil::core::testmap::TestId::new("money", "tests::percent_caps_at_whole"),
            map(vec![[4, 4]]),
        ),
    ]);
    key(&mut model, Key::Char('2'));
    key(&mut model, Key::Enter);
    let source = std::fs::read_to_string(common::fixture("shop").join("money/src/lib.rs")).unwrap();
    update(
        &mut model,
        Msg::SourceLoaded {
            path: "money/src/lib.rs".into(),
            text: Some(source),
        },
    );
    key(&mut model, Key::Char('g'));
    while model.ui.source_line > 4 {
        key(&mut model, Key::Char('k'));
    }
    while model.ui.source_line < 4 {
        key(&mut model, Key::Char('j'));
    }
    let t = text(&draw(&model, 120, 35, COLOUR));
    let row = |n: &str| {
        t.lines()
            .find(|l| l.starts_with(&format!("│{n}")))
            .unwrap_or_else(|| panic!("{t}"))
            .to_owned()
    };
    assert!(row("    3 ").contains("1×"), "{t}");
    assert!(row("    4 ").contains("2×"), "{t}");
    assert!(!row("    6 ").contains('×'), "{t}");
    assert!(
        t.contains("line 4: 2 tests · money tests::adds, money tests::percent_caps_at_whole"),
        "{t}"
    );
    key(&mut model, Key::Enter);
    assert_eq!(model.ui.tab, vigil::core::ui_state::Tab::Tests);
    assert_eq!(
        model.ui.selected,
        Some(vigil::core::ui_state::RowKey::Test(
            "money".into(),
            "tests::adds".into()
        ))
    );
    let t = text(&draw(&model, 120, 35, COLOUR));
    assert!(t.contains("covers 3 lines in 1 file"), "{t}");
    let fx = key(&mut model, Key::Char('o'));
    assert_eq!(
        fx,
        vec![Effect::LoadSource {
            path: "money/src/lib.rs".into()
        }]
    );
    assert_eq!(model.ui.source_goto, Some(3));
}

#[test]
fn history_view_shows_coverage_over_runs() {
    let mut model = shop_model_with_history();
    for (i, pct) in [60.0, 65.0, 72.5].into_iter().enumerate() {
        model.history.push_run(vigil::core::history::RunPoint {
            duration_s: 1.0 + i as f64,
            total: 9,
            failed: 1,
            coverage: Some(pct),
        });
    }
    key(&mut model, Key::Char('4'));
    let t = text(&draw(&model, 120, 35, COLOUR));
    let line = t
        .lines()
        .find(|l| l.contains("line coverage"))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(line.contains("72.50 %"), "{line}");
}

/// Every key the README's table lists, parsed from the README itself and
/// sent through the real key handling: each one changes the screen or asks
/// for something (a run, quitting). A key the README promises but the
/// handler ignores fails here.
#[test]
fn every_key_the_readme_lists_does_something() {
    use vigil::core::coverage::{Coverage, FileCoverage};
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let tokens: Vec<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once("` |"))
        .filter(|(keys, _)| vigil::ui::keymap::KEYMAP.iter().any(|b| b.keys == *keys))
        .flat_map(|(keys, _)| keys.split(" / ").map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert!(tokens.len() >= 25, "the README's key table was found: {tokens:?}");
    let msg = |token: &str| -> Msg {
        let key = match token {
            "↓" => Key::Down,
            "↑" => Key::Up,
            "PgDn" => Key::PageDown,
            "PgUp" => Key::PageUp,
            "Enter" => Key::Enter,
            "Tab" => Key::Tab,
            "Esc" => Key::Esc,
            "Ctrl-C" => Key::Ctrl('c'),
            "mouse wheel" => return Msg::Scroll { delta: 3 },
            t if t.chars().count() == 1 => Key::Char(t.chars().next().unwrap()),
            other => panic!("the test does not know how to press `{other}`"),
        };
        Msg::Key { key, at: ms(5_000) }
    };
    // What to press first, so that the key has something to change.
    let before = |token: &str| -> &str {
        match token {
            "k" | "↑" | "PgUp" | "g" => "G",
            "1" => "2",
            "s" => "2u",
            "d" | "u" => "2s",
            "Esc" => "f",
            _ => "",
        }
    };
    for token in &tokens {
        let mut model = shop_model();
        let file = |path: &str, lines: &[(u32, u64)]| FileCoverage {
            path: path.into(),
            lines: lines.iter().copied().collect(),
            ..FileCoverage::default()
        };
        model.coverage = Some(Coverage {
            files: vec![
                file(
                    "a.rs",
                    &[(1, 1), (2, 0), (3, 0), (4, 0), (5, 1), (6, 1), (7, 1), (8, 1)],
                ),
                file("b.rs", &[(1, 0), (2, 1)]),
                file("c.rs", &[(1, 1), (2, 1), (3, 1)]),
                file("d.rs", &[(1, 0), (2, 1), (3, 1), (4, 1), (5, 1), (6, 0), (7, 1)]),
            ],
            branches_measured: false,
        });
        model.coverage_run = Some(RunId(1));
        for c in before(token).chars() {
            key(&mut model, Key::Char(c));
        }
        if token == "n" || token == "N" {
            // A source with two uncovered stretches, open at the first
            // (at the second, for N).
            key(&mut model, Key::Char('2'));
            let text = (1..=7).map(|i| format!("line {i}\n")).collect::<String>();
            update(
                &mut model,
                Msg::SourceLoaded {
                    path: "d.rs".into(),
                    text: Some(text),
                },
            );
            if token == "N" {
                key(&mut model, Key::Char('n'));
            }
        }
        let shown = draw(&model, 120, 35, COLOUR);
        let fx = update(&mut model, msg(token));
        let changed = draw(&model, 120, 35, COLOUR) != shown;
        assert!(
            changed || !fx.is_empty(),
            "`{token}` (after `{}`) changed nothing on screen and asked for nothing",
            before(token)
        );
    }
}

/// The services strip in the header (a dot per service, in its state's
/// colour) and the services view (5): state, latency, error, the tests it
/// gates; `s` on a service without a start command says so.
#[test]
fn services_strip_and_view() {
    use vigil::core::services::{Check, Health, Probe, Service, ServiceSpec};
    let mut model = shop_model();
    let spec = |name: &str, start: Option<Vec<String>>| ServiceSpec {
        name: name.into(),
        check: Check::Http {
            url: "http://127.0.0.1:8080/health".into(),
            host: "127.0.0.1".into(),
            port: 8080,
            path: "/health".into(),
        },
        needed_by: "binary_id(orders::checkout)".into(),
        filter: vigil::core::filterset::Filter::parse("binary_id(orders::checkout)").unwrap(),
        start,
        stop: None,
        timeout: std::time::Duration::from_secs(2),
        interval: std::time::Duration::from_secs(5),
        start_timeout: std::time::Duration::from_secs(30),
        allow_blocked: false,
        proxy: None,
        faults: Vec::new(),
    };
    let mut bridge = Service::new(spec("bridge", None));
    let probe = |health, error: Option<&str>| Probe {
        health,
        latency: ms(2),
        error: error.map(str::to_owned),
        stub: false,
    };
    bridge.observe(&probe(Health::Healthy, None), ms(100));
    bridge.observe(&probe(Health::Unreachable, Some("connection refused")), ms(4_000));
    let mut cache = Service::new(spec("cache", Some(vec!["redis-server".into()])));
    cache.observe(&probe(Health::Healthy, None), ms(100));
    model.services = vec![bridge, cache];
    model.now = ms(5_000);
    let b = draw(&model, 120, 30, COLOUR);
    let dots: Vec<(u16, u16)> = (0..120)
        .filter(|&x| b[(x, 1)].symbol() == "●")
        .map(|x| (x, 1))
        .collect();
    assert_eq!(dots.len(), 2, "{}", text(&b));
    assert_eq!(b[dots[0]].fg, Color::Red);
    assert_eq!(b[dots[1]].fg, Color::Green);

    key(&mut model, Key::Char('5'));
    let shown = text(&draw(&model, 120, 30, COLOUR));
    assert!(shown.contains("[5 Services]"), "{shown}");
    for needle in [
        "bridge        unreachable",
        "cache         healthy",
        "error    connection refused",
        "check    http://127.0.0.1:8080/health every 5.00 s",
        "start    — (vigil does not start it)",
        "orders::checkout refund_partial",
        "healthy → unreachable",
    ] {
        assert!(shown.contains(needle), "{needle:?} in\n{shown}");
    }
    let fx = key(&mut model, Key::Char('s'));
    assert!(fx.is_empty());
    assert_eq!(model.ui.note.as_deref(), Some("`bridge` has no start command"));
    key(&mut model, Key::Char('j'));
    let fx = key(&mut model, Key::Char('s'));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::StartService { service, restart: false, .. } if service == "cache")),
        "{fx:?}"
    );
    assert!(model.services[1].starting_until.is_some());
}

/// A proxied service in the services view: its proxy, the fault now (and
/// `f` cycling through the configured ones), this run's calls per test,
/// the recent calls, and the last resilience matrix.
#[test]
fn services_view_shows_the_proxy_its_calls_and_the_matrix() {
    use vigil::core::faults::{Call, Ended, Fault, Matrix, ProxySpec};
    use vigil::core::services::{Check, Service, ServiceSpec};
    let mut model = shop_model();
    let spec = ServiceSpec {
        name: "bridge".into(),
        check: Check::Http {
            url: "http://127.0.0.1:8080/health".into(),
            host: "127.0.0.1".into(),
            port: 8080,
            path: "/health".into(),
        },
        needed_by: "binary_id(orders::checkout)".into(),
        filter: vigil::core::filterset::Filter::parse("binary_id(orders::checkout)").unwrap(),
        start: None,
        stop: None,
        timeout: std::time::Duration::from_secs(2),
        interval: std::time::Duration::from_secs(5),
        start_timeout: std::time::Duration::from_secs(30),
        allow_blocked: false,
        proxy: Some(ProxySpec {
            listen: "127.0.0.1:18080".into(),
            to: "127.0.0.1:8080".into(),
            http: true,
            health_path: Some("/health".into()),
            stub: Vec::new(),
        }),
        faults: vec![Fault::parse("status:503").unwrap(), Fault::parse("hang").unwrap()],
    };
    let mut bridge = Service::new(spec);
    let test = vigil::core::testmap::TestId("orders::checkout".into(), "refund_partial".into());
    for (status, fault) in [(200, None), (503, Some("status:503".to_owned()))] {
        let call = Call {
            service: "bridge".into(),
            at: ms(4_000),
            method: Some("POST".into()),
            path: Some("/v2/send".into()),
            status: Some(status),
            latency: ms(3),
            sent: 100,
            received: 50,
            fault,
            ended: Ended::Closed,
            caller: None,
            stub: false,
        };
        bridge.calls.push(call, Some(test.clone()));
    }
    model.services = vec![bridge];
    let mut m = Matrix::default();
    let r = |s: &str| {
        vec![(
            "orders::checkout".to_owned(),
            "refund_partial".to_owned(),
            s.to_owned(),
            Some(0.1),
        )]
    };
    m.add("none", &r("passed"), |_, _| Some(2.0));
    m.add("bridge=status:503", &r("failed"), |_, _| Some(2.0));
    model.faults_matrix = Some(m);
    model.now = ms(5_000);
    key(&mut model, Key::Char('5'));
    let fx = key(&mut model, Key::Char('f'));
    assert!(
        fx.iter().any(|e| matches!(e, Effect::SetFault { service, fault: Some(f) } if service == "bridge" && f.label() == "status:503")),
        "{fx:?}"
    );
    let shown = text(&draw(&model, 140, 40, COLOUR));
    for needle in [
        "proxy    127.0.0.1:18080 → 127.0.0.1:8080 (HTTP)",
        "fault    status:503 (injected)",
        "calls    2 this run · 50 % errors · 1 injected",
        "2× orders::checkout refund_partial (1 errors)",
        "POST /v2/send 503 3 ms (status:503, injected)",
        "resilience (the last vigil run --faults-matrix):",
    ] {
        assert!(shown.contains(needle), "{needle:?} in\n{shown}");
    }
    assert!(shown.contains("holds") && shown.contains("fails"), "{shown}");
    // The next fault outlasts nextest's slow-timeout: passed over, with why.
    key(&mut model, Key::Char('f'));
    assert!(model.services[0].fault.is_none());
    let note = model.ui.note.clone().unwrap();
    assert!(note.contains("no fault") && note.contains("passed over"), "{note}");
}

/// The timeline (6): a row per slot, failures red, the selected test's bar
/// highlighted and named.
#[test]
fn timeline_shows_slots_failures_and_the_selected_test() {
    let mut model = shop_model();
    key(&mut model, Key::Char('6'));
    let b = draw(&model, 120, 30, COLOUR);
    let shown = text(&b);
    assert!(shown.contains("[6 Timeline]") && shown.contains("slot 0"), "{shown}");
    assert!(shown.contains("tests on"), "{shown}");
    let bar_cells = |colour: Color| {
        (0..30u16)
            .flat_map(|y| (0..120u16).map(move |x| (x, y)))
            .filter(|&p| matches!(b[p].symbol(), "█" | "▐") && b[p].fg == colour)
            .count()
    };
    assert!(bar_cells(Color::Red) > 0, "the failure is red:\n{shown}");
    assert!(bar_cells(Color::Green) > 0, "passes are green");
    model.ui.selected = Some(vigil::core::RowKey::Test(
        Arc::from("orders::checkout"),
        "refund_partial".into(),
    ));
    let b = draw(&model, 120, 30, COLOUR);
    let shown = text(&b);
    assert!(
        shown.contains("selected: orders::checkout refund_partial on slot"),
        "{shown}"
    );
    let cyan = (0..30u16)
        .flat_map(|y| (0..120u16).map(move |x| (x, y)))
        .filter(|&p| matches!(b[p].symbol(), "█" | "▐") && b[p].fg == Color::Cyan)
        .count();
    assert!(cyan > 0, "the selected test's bar is highlighted");
}

/// `r` on a doctest reruns its package's doctests through the doc lane
/// (nextest, which has no such binary, runs nothing).
#[test]
fn r_on_a_doctest_reruns_its_packages_doctests() {
    let mut model = shop_model();
    let doc = ListedSuite {
        binary_id: Arc::from("orders::doc"),
        package: "orders".into(),
        binary_name: "doc".into(),
        kind: "doc".into(),
        binary_path: Default::default(),
        tests: vec![ListedTest {
            name: "src/lib.rs - total (line 3)".into(),
            ignored: false,
            selected: true,
        }],
    };
    let patterns = model.rules.e2e_patterns.clone();
    model.catalog.merge_listing(&[doc], &patterns, false);
    model.ui.selected = Some(vigil::core::RowKey::Suite(Arc::from("orders::doc")));
    let fx = key(&mut model, Key::Char('r'));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Run { filterset: Some(f), .. } if f == "none()")),
        "{fx:?}"
    );
    let run = model.current_run().unwrap();
    assert_eq!(run.doc_packages, vec!["orders".to_owned()]);
    assert_eq!(run.reasons, vec!["rerun of `orders`'s doctests (key r)".to_owned()]);
}

/// A failed `assert_eq!` on a struct: the detail pane shows the diff of the
/// two values (laid out a field per line, the changed item marked), in
/// colour with the differing characters reversed, and in plain text with
/// `-`/`+` and `^`.
#[test]
fn assertion_diff_in_the_detail_pane() {
    let mut model = shop_model();
    let suite = model.catalog.suite_index("orders::checkout").unwrap();
    let s = &mut model.catalog.suites[suite];
    let ti = s.test_index("refund_partial").unwrap();
    let message = "thread 'refund_partial' panicked at orders/tests/checkout.rs:11:5:\n\
                   assertion `left == right` failed\n  \
                   left: Order { id: 7, lines: [Line { sku: \"tea\", qty: 2 }, Line { sku: \"cake\", qty: 1 }], note: \"gift\\n\" }\n \
                   right: Order { id: 7, lines: [Line { sku: \"tea\", qty: 2 }, Line { sku: \"cake\", qty: 3 }], note: \"gift\\n\" }";
    let f = s.tests[ti].failure.as_mut().unwrap();
    f.message = message.to_owned();
    f.output = message.to_owned();
    model.ui.selected = Some(vigil::core::RowKey::Test(
        Arc::from("orders::checkout"),
        "refund_partial".into(),
    ));
    let plain = Theme { colour: false };
    insta::assert_snapshot!(text(&draw(&model, 120, 35, plain)));
    let b = draw(&model, 120, 35, COLOUR);
    let (x, y) = find(&b, "qty: 3").expect("the right value's changed line");
    // `3` is the differing character: reversed, green.
    let cell = &b[(x + 5, y)];
    assert_eq!(cell.symbol(), "3");
    assert!(cell.modifier.contains(Modifier::REVERSED) && cell.fg == Color::Green);
    let (x, y) = find(&b, "qty: 1").unwrap();
    assert_eq!(b[(x + 5, y)].fg, Color::Red);
}

/// A writer the test can read back (the view's terminal sequences).
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn tiny_run(view: &mut Interactive<TestBackend>, run: u32, fail: bool, at: u64) {
    view.handle(Msg::RunRequested {
        trigger: Trigger::Key,
        selection: Selection::All,
        at: ms(at),
    });
    view.handle(Msg::Listed {
        run: RunId(run),
        suites: vec![ListedSuite {
            binary_id: Arc::from("a"),
            package: "a".into(),
            binary_name: "a".into(),
            kind: "lib".into(),
            binary_path: "/t/a".into(),
            tests: vec![ListedTest {
                name: "t".into(),
                ignored: false,
                selected: true,
            }],
        }],
        at: ms(at + 1),
    });
    let ev = |kind| Msg::Test {
        run: RunId(run),
        event: vigil::core::TestEvent {
            binary_id: Arc::from("a"),
            name: "t".into(),
            kind,
        },
        at: ms(at + 2),
    };
    view.handle(ev(vigil::core::TestEventKind::Started { attempt: 1 }));
    view.handle(ev(if fail {
        vigil::core::TestEventKind::Failed {
            exec_time: None,
            failure: vigil::core::test_state::Failure {
                message: "boom".into(),
                output: "it went boom".into(),
                location: None,
                output_file: None,
                output_bytes: None,
            },
        }
    } else {
        vigil::core::TestEventKind::Passed { exec_time: None }
    }));
    view.handle(Msg::RunExited {
        run: RunId(run),
        exit: if fail { ToolExit::TestsFailed } else { ToolExit::Success },
        stderr: String::new(),
        at: ms(at + 3),
    });
}

/// `y` puts the selected failure on the clipboard with OSC 52; with
/// `notify = "bell"` the bell rings when a run goes red, and again when it
/// goes back to green — not while it stays red.
#[test]
fn y_copies_with_osc52_and_the_bell_rings_on_a_flip() {
    let settings = Settings::parse("notify = \"bell\"\n").unwrap();
    let engine = Engine::dry(Default::default(), settings);
    let mut view = Interactive::new(engine, Terminal::new(TestBackend::new(100, 30)).unwrap(), COLOUR);
    let out = Shared::default();
    view.out = Box::new(out.clone());
    tiny_run(&mut view, 1, false, 0);
    tiny_run(&mut view, 2, true, 100);
    tiny_run(&mut view, 3, true, 200);
    tiny_run(&mut view, 4, false, 300);
    let bytes = out.0.lock().unwrap().clone();
    assert_eq!(bytes, b"\x07\x07", "red, then green again");
    tiny_run(&mut view, 5, true, 400);
    out.0.lock().unwrap().clear();
    view.engine.model.ui.selected = Some(vigil::core::RowKey::Test(Arc::from("a"), "t".into()));
    view.handle(Msg::Key {
        key: Key::Char('y'),
        at: ms(500),
    });
    let written = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let expected = vigil::app::osc52("a t\nboom\n\nit went boom");
    assert_eq!(written, expected);
    assert!(written.starts_with("\x1b]52;c;") && written.ends_with('\x07'));
}

/// `e` opens what is selected: the failure's location, the coverage
/// source's selected line, the build's first diagnostic; without any, it
/// says so.
#[test]
fn e_opens_the_failure_the_coverage_line_or_the_build_error() {
    use vigil::core::effect::EditTarget;
    let mut model = shop_model();
    model.ui.selected = Some(vigil::core::RowKey::Test(
        Arc::from("orders::checkout"),
        "refund_partial".into(),
    ));
    let root = model.workspace.root.clone();
    assert_eq!(
        key(&mut model, Key::Char('e')),
        vec![Effect::Edit(EditTarget::At {
            path: root.join("orders/tests/checkout.rs"),
            line: 11
        })]
    );
    // A passing test: its definition.
    model.ui.selected = Some(vigil::core::RowKey::Test(
        Arc::from("orders::checkout"),
        "applies_discount".into(),
    ));
    let fx = key(&mut model, Key::Char('e'));
    assert!(
        matches!(&fx[..], [Effect::Edit(EditTarget::TestFn { name, dirs })] if name == "applies_discount" && !dirs.is_empty()),
        "{fx:?}"
    );
    // The coverage view's source, at its selected line.
    model.ui.tab = vigil::core::ui_state::Tab::Coverage;
    model.ui.source = Some(("money/src/lib.rs".into(), "fn a() {}\nfn b() {}\n".into()));
    model.ui.source_line = 2;
    assert_eq!(
        key(&mut model, Key::Char('e')),
        vec![Effect::Edit(EditTarget::At {
            path: root.join("money/src/lib.rs"),
            line: 2
        })]
    );
    // The build's first diagnostic.
    let mut model = build_failed_model();
    let root = model.workspace.root.clone();
    let fx = key(&mut model, Key::Char('e'));
    assert!(
        matches!(&fx[..], [Effect::Edit(EditTarget::At { path, .. })] if path.starts_with(&root)),
        "{fx:?}"
    );
}

/// `c` on a test asks for an audit; its result shows in the test's detail
/// and in the checks view (7).
#[test]
fn c_asks_for_a_check_and_its_findings_show_in_the_detail_and_the_checks_view() {
    use vigil::core::check::{CheckSummary, Finding, Kind, TestRecord};
    let mut model = shop_model();
    model.ui.viewport = 28;
    keys(&mut model, "j"); // onto the failed test (refund_partial)
    let fx = key(&mut model, Key::Char('c'));
    assert_eq!(
        fx,
        [Effect::Check {
            filter: "binary_id(orders::checkout) & test(=refund_partial)".into()
        }]
    );
    assert!(key(&mut model, Key::Char('c')).is_empty(), "one check at a time");
    assert!(key(&mut model, Key::Char('C')).is_empty(), "one check at a time");
    let summary = CheckSummary {
        duration_s: 1.5,
        tests: vec![TestRecord {
            binary_id: "orders::checkout".into(),
            name: "refund_partial".into(),
            runs: 40,
            failures: 3,
            first_failure: Some(22),
            parallel: 2,
            min_ms: 2.0,
            median_ms: 3.0,
            max_ms: 9.0,
            fails: false,
            assertions: Some(1),
            markers: vec!["test".into()],
            fixtures: vec![],
        }],
        findings: vec![Finding {
            binary_id: "orders::checkout".into(),
            name: "refund_partial".into(),
            kind: Kind::Race,
            runs: 20,
            failures: 3,
            evidence: "3 of 20 concurrent runs failed (2 copies at once), none of 20 alone: it broke".into(),
            assertion: None,
        }],
        skipped: vec![],
        clean: false,
    };
    let fx = update(
        &mut model,
        Msg::Checked {
            result: Ok(Box::new(summary)),
        },
    );
    assert!(
        matches!(&fx[..], [Effect::Emit(r)] if matches!(**r, vigil::core::Report::CheckFinished(_))),
        "{fx:?}"
    );
    let screen = text(&draw(&model, 120, 35, COLOUR));
    assert!(
        screen.contains("check of orders::checkout refund_partial: 1 finding"),
        "{screen}"
    );
    assert!(screen.contains("check: 3 of 40 runs failed"), "{screen}");
    assert!(screen.contains("record: 1 assertion · markers test"), "{screen}");
    assert!(screen.contains("race 3 of 20 concurrent runs failed"), "{screen}");
    keys(&mut model, "7");
    let screen = text(&draw(&model, 120, 35, COLOUR));
    assert!(screen.contains("[7 Checks]"), "{screen}");
    assert!(screen.contains("1 test, 40 runs in 1.5 s: 1 finding"), "{screen}");
    assert!(
        screen.contains("race             orders::checkout refund_partial"),
        "{screen}"
    );
    keys(&mut model, "1");
    assert_eq!(
        key(&mut model, Key::Char('C')),
        [Effect::Check { filter: "all()".into() }],
        "C: every test, once the last check is done"
    );
}

/// The seed's record without a check: each test's assertions and markers
/// read from the fixture's real sources as a run starts, in its detail;
/// the suite's own line and branch coverage (the union of its tests'
/// maps) and its assertions in the suite's detail.
#[test]
fn a_tests_record_and_its_suites_coverage_show_without_a_check() {
    use vigil::core::coverage::{Coverage, FileCoverage};
    use vigil::core::testmap::{FileMap, TestId, TestMap};
    let ws = vigil::adapters::workspace::discover_members(&common::fixture("shop")).unwrap();
    let records = vigil::adapters::sources::test_records(&ws);
    let refund = records
        .iter()
        .find(|(k, _)| *k == TestId::new("orders::checkout", "refund_partial"))
        .map(|(_, r)| r.clone())
        .unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(
        (refund.assertions, refund.markers.clone()),
        (1, vec!["test".to_owned()])
    );
    let ignored = records
        .iter()
        .find(|(k, _)| *k == TestId::new("orders::checkout", "pays_by_card"))
        .map(|(_, r)| r.clone())
        .unwrap();
    assert_eq!(ignored.assertions, 0);
    assert!(ignored.markers.iter().any(|m| m == "ignore"), "{ignored:?}");
    let mut model = shop_model();
    model.ui.viewport = 28;
    update(&mut model, Msg::TestSources { records });
    // The suite row first: its coverage from two tests' maps, branches
    // measured (4 outcomes in the workspace, the maps take 3).
    model.coverage = Some(Coverage {
        files: vec![FileCoverage {
            path: "orders/src/lib.rs".into(),
            lines: (1..=10).map(|l| (l, 1)).collect(),
            branches: vec![(4, 0, Some(1)), (4, 1, Some(1)), (8, 0, Some(1)), (8, 1, Some(0))],
            ..FileCoverage::default()
        }],
        branches_measured: true,
    });
    let map = |lines: Vec<[u32; 2]>, branches: Vec<[u32; 3]>| TestMap {
        files: [(
            "orders/src/lib.rs".to_owned(),
            FileMap {
                hash: "h".into(),
                lines,
                branches,
            },
        )]
        .into(),
        partial: None,
        shared: None,
        failed: false,
        reads: None,
    };
    model.test_maps.merge(vec![
        (
            TestId::new("orders::checkout", "refund_partial"),
            map(vec![[1, 4]], vec![[4, 9, 1], [4, 9, 0]]),
        ),
        (
            TestId::new("orders::checkout", "applies_discount"),
            map(vec![[3, 5]], vec![[4, 9, 1], [8, 5, 1]]),
        ),
    ]);
    let screen = text(&draw(&model, 120, 35, COLOUR));
    assert!(screen.contains(" orders::checkout "), "the suite is selected: {screen}");
    assert!(screen.contains("its tests reach 5 lines (50.0 % of the"), "{screen}");
    assert!(screen.contains("3 branch outcomes (75.0 %)"), "{screen}");
    assert!(
        screen.contains("record: 3 assertions in 4 of its 4 tests' sources"),
        "{screen}"
    );
    keys(&mut model, "j"); // onto refund_partial
    let screen = text(&draw(&model, 120, 35, COLOUR));
    assert!(screen.contains("record: 1 assertion · markers test"), "{screen}");
    assert!(model.check.is_none(), "no check ran");
}
