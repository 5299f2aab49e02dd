"""Classification of the hard cases: negation, hyperbole, reports, jokes, channels, chatter, odd input."""

import pytest

from tongpin.shared.events import CATEGORIES, RISK_FLAGS, SEVERITIES
from tongpin.triage.domain import Classification, assignee_role_for, classify, default_ruleset

pytestmark = pytest.mark.unit


def run(text: str, channel: str = "officers") -> Classification:
    return classify(text, channel, default_ruleset())


class TestSelfHarm:
    def test_plain_statement_is_a_crisis(self) -> None:
        result = run("真的不想活了，每天都看不到头")
        assert result.crisis
        assert "self_harm" in result.flags
        assert result.severity == "critical"
        assert result.route == "psych_support"
        assert "self_harm.wish" in result.rule_ids
        assert any("不想活" in reason and "自伤风险" in reason for reason in result.reasons)

    @pytest.mark.parametrize("text", ["不是不想活了，就是太累了", "我没有想轻生，别担心", "我不会想不开的"])
    def test_negated_is_not_a_crisis(self, text: str) -> None:
        result = run(text)
        assert not result.crisis
        assert "self_harm" not in result.flags
        assert any("否定" in reason for reason in result.reasons)

    def test_negated_mention_still_counts_as_distress(self) -> None:
        # Someone who raises the thought, even to deny it, should reach a psychologist.
        result = run("别担心我，我不会想不开的，就是想吐吐槽")
        assert result.category == "mental_distress"
        assert not result.crisis

    def test_contrast_word_stops_the_negation_search(self) -> None:
        assert run("我也不知道为什么，就是想死").crisis

    def test_family_reporting_an_officer_is_first_hand(self) -> None:
        result = run("他昨晚跟我说不想活了，我很害怕", "families")
        assert result.crisis
        assert result.route == "psych_support"


class TestHyperboleAndIdiom:
    @pytest.mark.parametrize("text", ["累死了", "气死我了", "忙疯了", "笑死", "困死了", "想死你们了"])
    def test_idioms_raise_no_flag(self, text: str) -> None:
        result = run(text)
        assert not result.crisis
        assert result.flags == ()

    def test_hyperbole_keeps_the_real_topic(self) -> None:
        result = run("累死了，今天连着值了两个夜班，饭都没顾上吃")
        assert result.category == "workload_leave"
        assert not result.crisis
        assert any("夸张" in reason for reason in result.reasons)

    def test_tired_to_death_pattern(self) -> None:
        result = run("加班加到想死，这周又是通宵")
        assert not result.crisis
        assert result.category == "workload_leave"


class TestReportedAndJokes:
    @pytest.mark.parametrize("text", [
        "新闻说某地民警自杀了，大家要注意身体",
        "听说隔壁县有个辅警跳楼了，是真的吗",
        "昨天看了部电影，主角最后自杀了",
    ])
    def test_news_and_stories_are_not_crises(self, text: str) -> None:
        result = run(text)
        assert not result.crisis
        assert any("转述" in reason for reason in result.reasons)

    def test_writer_turning_back_to_themselves_ends_the_report(self) -> None:
        assert run("听说隔壁县有人跳楼了，我现在也不想活了").crisis

    def test_a_joke_is_not_a_crisis(self) -> None:
        assert not run("开玩笑的，我说想死是逗你们，别当真").crisis

    def test_policy_question_is_not_a_crisis(self) -> None:
        result = run("请问民警自杀后家属的抚恤标准是多少？")
        assert not result.crisis
        assert result.category == "pay_benefits"


class TestChannels:
    def test_officer_drinking_is_health_with_substance(self) -> None:
        result = run("最近喝得有点多，晚上不喝睡不着")
        assert result.category == "health"
        assert "substance" in result.flags
        assert result.route == "psych_support"

    def test_supervision_drinking_report_is_conduct(self) -> None:
        result = run("看到几个民警中午在饭店喝酒，下午还上岗", "supervision")
        assert result.category == "conduct"
        assert "substance" in result.flags
        assert result.route == "oversight"

    def test_family_worry_about_mood_goes_to_psychologist(self) -> None:
        result = run("我老公最近情绪很低落，回家一句话不说，晚上也睡不着", "families")
        assert result.category == "mental_distress"
        assert result.route == "psych_support"

    def test_service_complaint_from_supervision_goes_to_oversight(self) -> None:
        result = run("去派出所办身份证排了两个小时，窗口只开一个", "supervision")
        assert result.category == "service_complaint"
        assert result.route == "oversight"

    def test_corruption_allegation_is_not_silenced_by_hearsay(self) -> None:
        result = run("听说有民警收了人家的好处费帮忙办事", "supervision")
        assert result.category == "conduct"
        assert "corruption" in result.flags
        assert result.route == "oversight"

    def test_praise_is_dismissed_without_being_chatter(self) -> None:
        result = run("感谢城关派出所的民警帮我找回了电动车，点赞", "supervision")
        assert result.category == "praise"
        assert result.route == "dismiss"
        assert not result.dismissed


class TestRoutes:
    def test_housing_goes_to_the_committee(self) -> None:
        result = run("想结婚但是没房子，宿舍也住不下")
        assert result.category == "housing"
        assert result.route == "committee"
        assert assignee_role_for(result.route) == "centre_coordinator"

    def test_urgent_hardship_goes_to_the_committee(self) -> None:
        result = run("孩子要做手术，手术费还差十万，实在走投无路了")
        assert "urgent_hardship" in result.flags
        assert result.route == "committee"

    def test_plain_question_is_answered_online(self) -> None:
        result = run("年假今年还能休吗？申请了两次都没批")
        assert result.category == "workload_leave"
        assert result.route == "answer_online"
        assert assignee_role_for(result.route) == "political_worker"

    def test_domestic_violence_from_family_goes_to_oversight(self) -> None:
        result = run("他喝了酒就动手打我，我不敢跟别人说", "families")
        assert "domestic_violence" in result.flags
        assert result.route == "oversight"

    def test_violence_threat_is_a_crisis(self) -> None:
        result = run("再让我碰到他，我就拿刀跟他同归于尽")
        assert result.crisis
        assert "violence" in result.flags

    @pytest.mark.parametrize(("route", "role"), [
        ("answer_online", "political_worker"), ("psych_support", "psychologist"),
        ("committee", "centre_coordinator"), ("oversight", "centre_coordinator"), ("dismiss", None),
    ])
    def test_assignee_roles(self, route: str, role: str | None) -> None:
        assert assignee_role_for(route) == role


class TestChatterAndOddInput:
    @pytest.mark.parametrize("text", ["收到", "好的", "辛苦了", "👍", "[表情]", "谢谢领导", "1", "早上好🌹"])
    def test_chatter_is_dismissed(self, text: str) -> None:
        result = run(text)
        assert result.dismissed
        assert (result.category, result.severity, result.route) == ("other", "low", "dismiss")

    @pytest.mark.parametrize("text", ["", "   ", "😂😂😂", "。。。", "\n\t"])
    def test_empty_and_emoji_only_get_a_decision(self, text: str) -> None:
        result = run(text)
        assert result.dismissed
        assert result.route == "dismiss"

    def test_very_long_text_is_truncated_not_rejected(self) -> None:
        text = "今天值班很忙。" * 2000 + "不想活了"
        result = run(text)
        # The risk words sit beyond the analysed prefix: the decision must still come, and fast.
        assert result.category == "workload_leave"
        assert not result.crisis

    def test_mixed_language(self) -> None:
        result = run("I saw 一个警察 drinking beer 在警车里，这合适吗？", "supervision")
        assert result.category == "conduct"
        assert "substance" in result.flags

    def test_non_chatter_without_a_topic_is_other_but_kept(self) -> None:
        result = run("谁的车停在大院门口了？挡着出不去")
        assert result.category == "other"
        assert not result.dismissed
        assert result.route == "answer_online"

    @pytest.mark.parametrize("text", ["\x00\x01", "🙂" * 500, "a" * 10000, "？？？不想活？？？", "[[[[", "死"])
    def test_never_raises_and_values_are_valid(self, text: str) -> None:
        for channel in ("officers", "families", "supervision"):
            result = classify(text, channel, default_ruleset())
            assert result.category in CATEGORIES
            assert result.severity in SEVERITIES
            assert set(result.flags) <= set(RISK_FLAGS)
            assert result.ruleset_version == 1
            assert result.crisis == (
                result.severity == "critical" or bool({"self_harm", "violence"} & set(result.flags))
            )

    def test_decision_is_explained(self) -> None:
        result = run("加班费拖了半年还没发")
        assert result.category == "pay_benefits"
        assert result.rule_ids
        assert result.reasons
        assert all(isinstance(reason, str) and reason for reason in result.reasons)


class TestPlaceholders:
    @pytest.mark.parametrize("text", ["[刀]", "[炸弹]", "[呲牙]", "[心碎][心碎]", "[图片]"])
    def test_sticker_names_are_not_words(self, text: str) -> None:
        result = run(text)
        assert result.dismissed
        assert not result.crisis
        assert result.flags == ()

    def test_sticker_next_to_real_words_does_not_hide_them(self) -> None:
        result = run("[流泪]真的不想活了")
        assert result.crisis


class TestBroadenedVocabulary:
    """Paraphrase and euphemism by concept, and the everyday phrases naive matching gets wrong."""

    @pytest.mark.parametrize(("text", "channel"), [
        ("我要是哪天做了傻事，你们别怪我", "officers"),
        ("他把工资卡和密码都交给我了，说以后家里就靠我了", "families"),
        ("想问一下怎么死比较不痛", "officers"),
        ("活着有啥意思，每天都是挨骂", "officers"),
        ("偷偷攒了一把安眠药，放在抽屉里", "officers"),
    ])
    def test_self_harm_euphemisms_are_crises(self, text: str, channel: str) -> None:
        result = run(text, channel)
        assert result.crisis
        assert "self_harm" in result.flags

    @pytest.mark.parametrize("text", ["他再敢来闹，我就废了他", "大不了跟他鱼死网破", "迟早找人收拾他"])
    def test_threat_paraphrases_are_crises(self, text: str) -> None:
        result = run(text)
        assert result.crisis
        assert "violence" in result.flags

    @pytest.mark.parametrize(("text", "flag"), [
        ("他一喝多就拽着我头发往墙上撞", "domestic_violence"),
        ("他最近天天喝，喝断片好几回了", "substance"),
    ])
    def test_family_reports_raise_their_flag(self, text: str, flag: str) -> None:
        assert flag in run(text, "families").flags

    @pytest.mark.parametrize(("text", "channel"), [
        ("他一天都没打我电话，不知道在忙什么", "families"),
        ("周六一起去喝喜酒", "officers"),
        ("群里抢红包啦", "officers"),
        ("终于解脱了，考试总算考完", "officers"),
        ("他爷爷去世了，这几天回老家料理后事", "families"),
        ("看到一个视频说外省有个辅警跳楼了，唉", "officers"),
        ("我不会做傻事的，放心", "officers"),
    ])
    def test_everyday_phrases_raise_no_crisis_or_abuse_flag(self, text: str, channel: str) -> None:
        result = run(text, channel)
        assert not result.crisis
        assert not {"self_harm", "violence", "domestic_violence", "corruption", "substance"} & set(result.flags)

    def test_everyday_duty_words_alone_do_not_name_a_category(self) -> None:
        result = run("周五下午开会，地点另行通知")
        assert result.category == "other"

    def test_family_fear_is_distress_not_a_crisis(self) -> None:
        result = run("我怕他想不开，最近一直不说话", "families")
        assert result.category == "mental_distress"
        assert not result.crisis
