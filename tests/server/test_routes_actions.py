"""Starting a release and acting on it over the API: the same rules as the CLI, the token's person acting."""

from __future__ import annotations

from ld_server import Api, assert_problem, plan


def test_start_answers_the_release_its_url_and_who_submitted_it(api: Api) -> None:
    started = api.start("start-v2", who="lee", seed=4, startAt="2030-01-01T08:00:00Z")
    assert started.status_code == 201, started.text
    body = started.json()
    assert (body["name"], body["tenant"], body["submittedBy"]) == ("start-v2", "acme", "lee")
    assert body["url"].endswith("/api/v1/releases/start-v2")
    assert api.client.get(body["url"], headers=api.headers("vic")).json()["id"] == body["id"]
    found = api.store.find(name="start-v2", tenant="acme")
    assert found.submitted_by == "lee" and found.plan_text == plan("start-v2")
    assert found.state["options"]["seed"] == 4 and found.state["plannedStart"].startswith("2030-01-01T08:00")
    assert (api.root / "data" / "acme" / "start-v2" / "plan.yaml").read_text() == plan("start-v2")


def test_a_release_of_that_name_still_running_is_a_conflict(api: Api) -> None:
    assert api.start("twice-v2").status_code == 201
    assert_problem(api.start("twice-v2"), 409, "release twice-v2 is already running")


def test_a_registered_plan_starts_by_name(api: Api) -> None:
    assert api.post("/api/v1/plans", {"plan": plan("named-v2")}).status_code == 201
    started = api.post("/api/v1/releases", {"plan": "named-v2", "timeScale": 30}, who="lee")
    assert started.status_code == 201, started.text
    assert_problem(api.post("/api/v1/releases", {"plan": "nothing-v1"}, who="lee"), 404, "no registered plan")
    assert_problem(api.post("/api/v1/releases", {"plan": "named-v2", "planText": plan()}, who="lee"), 422)


def test_approvals_given_with_the_start_are_checked_like_the_file(api: Api) -> None:
    refused = api.start("ahead-v2", approvals=[{"who": "lee", "role": "sre", "stage": 1},
                                               {"who": "priya", "role": "sre", "stage": 1}])
    body = assert_problem(refused, 422, "1 problem in the approvals; nothing was recorded")
    assert [(p["file"], p["line"]) for p in body["problems"]] == [("approvals", 2)]
    assert body["problems"][0]["message"].startswith("sign-off of stage 1 by priya (sre): priya is not in role 'sre'")
    assert api.store.find(name="ahead-v2", tenant="acme") is None  # nothing recorded, not even lee's
    assert api.start("ahead-v2", approvals=[{"who": "lee", "role": "sre", "stage": 1}]).status_code == 201
    signed = api.store.signoffs(release_id=api.store.find(name="ahead-v2").id)
    assert [(s.who, s.stage, s.source) for s in signed] == [("lee", 1, "approvals-file")]


def test_a_sign_off_is_recorded_as_the_tokens_person(api: Api) -> None:
    assert api.start("sign-v2").status_code == 201
    done = api.post("/api/v1/releases/sign-v2/signoffs", {"role": "sre", "stage": 1, "reason": "dashboards fine"},
                    who="lee")
    assert done.status_code == 201, done.text
    assert done.json()["message"] == "recorded: lee (sre) stage 1 for sign-v2" and done.json()["driven"] is False
    signed = api.store.signoffs(release_id=api.store.find(name="sign-v2").id)
    assert [(s.who, s.role, s.stage, s.reason, s.source) for s in signed] == [("lee", "sre", 1, "dashboards fine", "api")]


def test_a_sign_off_the_plan_does_not_have_is_422_and_an_unknown_release_404(api: Api) -> None:
    assert api.start("bad-sign-v2").status_code == 201
    assert_problem(api.post("/api/v1/releases/bad-sign-v2/signoffs", {"role": "sre", "stage": 9}), 422,
                   "the plan has no stage 9 (stages: 1–2)")
    assert_problem(api.post("/api/v1/releases/ghost-v1/signoffs", {"role": "sre", "stage": 1}), 404)


def test_kill_pause_resume_go_no_go_follow_the_releases_state(api: Api) -> None:
    assert api.start("acts-v2").status_code == 201
    assert_problem(api.post("/api/v1/releases/acts-v2/pause", {"role": "sre"}), 409,
                   "only a running release can be paused")
    assert_problem(api.post("/api/v1/releases/acts-v2/resume", {"role": "sre"}), 409, "neither paused nor held")
    go = api.post("/api/v1/releases/acts-v2/go", {"reason": "all green"}, who="sam")
    assert go.status_code == 201 and go.json()["message"] == "recorded: GO by sam (sre) for acts-v2"
    kill = api.post("/api/v1/releases/acts-v2/kill", {"role": "sre", "reason": "abort"}, who="lee")
    assert kill.status_code == 202, kill.text
    assert "whatever drives it next rolls it back at once" in kill.json()["message"]
    decisions = [s.decision for s in api.store.signoffs(release_id=api.store.find(name="acts-v2").id)]
    assert decisions == ["go", "kill"]


TRAIN = """\
apiVersion: launchdeck/v1
kind: ReleaseTrain
metadata: {name: pair-v2, version: v2}
spec:
  defaults:
    stages: [{weight: 50%, hold: 30s}, {weight: 100%, hold: 30s}]
  services:
    - {name: front}
    - {name: back, after: [front]}
"""


def test_a_release_train_starts_as_one_release_with_its_services_named(api: Api) -> None:
    started = api.post("/api/v1/releases", {"planText": TRAIN, "timeScale": 30}, who="lee")
    assert started.status_code == 201, started.text
    body = started.json()
    assert (body["name"], body["services"]) == ("pair-v2", ["pair-v2.front", "pair-v2.back"])
    found = api.store.find(name="pair-v2", tenant="acme")
    assert found.submitted_by == "lee" and found.state["kind"] == "train" and found.plan_text == TRAIN
    assert api.get("/api/v1/releases/pair-v2", who="vic").json()["outcome"] is None
    assert_problem(api.post("/api/v1/releases", {"planText": TRAIN}, who="lee"), 409, "train pair-v2 is already running")


def test_a_plain_release_answers_no_services(api: Api) -> None:
    started = api.start("plain-v2", who="lee")
    assert started.status_code == 201 and started.json()["services"] is None


def test_people_act_on_a_trains_services_not_on_the_train(api: Api) -> None:
    assert api.post("/api/v1/releases", {"planText": TRAIN.replace("pair-v2", "trio-v2")}, who="lee").status_code == 201
    refused = api.post("/api/v1/releases/trio-v2/kill", {"role": "sre", "reason": "x"}, who="lee")
    assert_problem(refused, 409, "trio-v2 is a release train: `kill` acts on one of its services' releases "
                                 "(trio-v2.front, trio-v2.back)")
