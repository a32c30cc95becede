from pathlib import Path

import pytest

from adapters.base import ACTIONS
from assistant.catalog.catalog import FALLBACK, PROMPTS, SLOT_TYPES, UNKNOWN_INTENT, Catalog
from assistant.catalog.template import render
from domain.errors import DataFileError
from domain.vocabulary import Vocabulary

INTENTS_DIR = Path(__file__).resolve().parents[1] / "intents"
NLU_DIR = INTENTS_DIR.parent / "nlu_data"

FUNCTION_INTENTS = [
    "balance_inquiry", "transaction_history", "transfer", "card_loss", "change_password", "pay_bill",
    "forex_trade", "credit_card_repay", "credit_card_bill", "stock_buy", "stock_sell",
    "order_cancel", "order_query", "stock_quote", "positions", "bank_securities_transfer",
    "price_alert", "complaint", "suggestion", "business_info", "human_agent", "callback_request",
    "trade_history", "custody_info", "policy_inquiry", "claim_report", "claim_status", "premium_payment",
    "policy_loan", "policy_contact_change", "fund_nav", "fund_subscribe", "fund_redeem", "fund_positions",
    "fund_plan", "wealth_product_info", "wealth_purchase", "wealth_redeem", "bond_purchase",
]
CONVERSATIONAL_INTENTS = ["greet", "goodbye", "affirm", "deny"]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load(INTENTS_DIR)


def test_every_function_intent_maps_to_the_function_of_the_same_name(catalog):
    for intent in FUNCTION_INTENTS:
        assert catalog.function_for(intent).id == intent
    assert sorted(catalog.functions) == sorted(FUNCTION_INTENTS)


def test_conversational_intents_have_a_reply_and_no_function(catalog):
    for intent in [*CONVERSATIONAL_INTENTS, FALLBACK, UNKNOWN_INTENT]:
        assert catalog.function_for(intent) is None
        assert catalog.replies[intent]


def test_stock_buy_spec_is_read_in_file_order(catalog):
    stock_buy = catalog.function_for("stock_buy")
    assert stock_buy.title == "买入股票"
    assert stock_buy.menu == ("签约客户", "借记卡", "银证通", "股票买卖", "买入股票")
    assert stock_buy.verify is True
    assert stock_buy.action == "securities.place_order"
    assert [(s.name, s.type, s.required) for s in stock_buy.slots] == [
        ("stock", "stock", True), ("quantity", "quantity", True), ("price", "price", False)]
    quantity = stock_buy.slot("quantity")
    assert (quantity.min, quantity.step, quantity.invalid) == (100, 100, "买入数量要是100股的整数倍。")
    assert {name: (p.slot, p.value) for name, p in stock_buy.params.items()} == {
        "side": (None, "buy"), "stock": ("stock", None), "quantity": ("quantity", None), "price": ("price", None)}
    assert stock_buy.outcomes["price_limit"].ask == "price"
    assert stock_buy.hours.closed.startswith("现在不是股票交易时间")


def test_every_action_is_a_back_end_action_with_its_required_params(catalog):
    for function in catalog.functions.values():
        if function.action:
            assert set(ACTIONS[function.action].required) <= set(function.params), function.id
        else:
            assert function.handoff == "caller_request"


def test_key_choices_are_canonical_values_of_the_lookup_tables(catalog):
    vocabulary = Vocabulary.load(NLU_DIR)
    for function in catalog.functions.values():
        for slot in function.slots:
            if slot.keys and not slot.choices:
                assert set(slot.keys) <= set(vocabulary.values_in(slot.type)), (function.id, slot.name)


def test_every_template_renders_with_no_slots_and_confirm_with_only_the_required(catalog):
    for function in catalog.functions.values():
        assert render(function.opening, {})
        if function.confirm:
            required = {s.name: "X" for s in function.slots if s.required}
            assert "{" not in render(function.confirm, required)


def test_pins_are_typed_and_never_in_a_template(catalog):
    change = catalog.function_for("change_password")
    assert [s.name for s in change.slots if s.secret] == ["old_pin", "new_pin", "new_pin_again"]
    assert change.slot("new_pin_again").same_as == "new_pin"
    assert "pin" not in change.confirm and "pin" not in change.opening


def test_outcome_replies_go_from_reason_to_status_and_function_to_dialogue(catalog):
    transfer = catalog.function_for("transfer")
    assert catalog.outcome_reply(transfer, "rejected", "unknown_payee").ask == "payee"
    assert catalog.outcome_reply(transfer, "rejected", "locked").handoff == "locked"
    assert catalog.outcome_reply(transfer, "rejected", "key_reused") is catalog.outcomes["rejected"]
    assert catalog.outcome_reply(transfer, "unknown", "timeout").say == "办理结果暂时无法确认，我们会核实后短信通知您。"
    assert catalog.outcome_reply(None, "failed", None).handoff == "backend_failed"


def test_the_key_menu_is_the_tree_of_menu_paths(catalog):
    top = [node.title for node in catalog.menu.children]
    assert top == ["签约客户", "投诉建议", "业务咨询", "人工服务"]
    assert catalog.menu.child("业务咨询").function == "business_info"
    securities = catalog.menu.child("签约客户").child("借记卡").child("银证通")
    assert securities.child("股票买卖").child("买入股票").function == "stock_buy"


def test_vocabulary_has_titles_and_menu_words_once(catalog):
    vocabulary = catalog.vocabulary()
    assert {"买入股票", "外汇买卖", "银证通", "签约客户"} <= set(vocabulary)
    assert len(vocabulary) == len(set(vocabulary))


@pytest.mark.parametrize("template, values, expected", [
    ("好的，买入[{stock}][{quantity}股]。", {"stock": "贵州茅台"}, "好的，买入贵州茅台。"),
    ("好的，买入[{stock}][{quantity}股]。", {"stock": "贵州茅台", "quantity": "200"},
     "好的，买入贵州茅台200股。"),
    ("[以{price}元]买入{stock}", {"stock": "万科A"}, "买入万科A"),
    ("[{a}和{b}]", {"a": "1"}, ""),
    ("好的，[买入{stock}[{quantity}股]。]", {}, "好的，"),
    ("好的，[买入{stock}[{quantity}股]。]", {"quantity": "200"}, "好的，"),
    ("好的，[买入{stock}[{quantity}股]。]", {"stock": "贵州茅台"}, "好的，买入贵州茅台。"),
    ("没有槽位。", {}, "没有槽位。"),
])
def test_render(template, values, expected):
    assert render(template, values) == expected


def test_render_refuses_a_missing_slot_outside_sections_and_bad_brackets():
    with pytest.raises(KeyError):
        render("买入{stock}", {})
    for broken in ["[{stock}", "{stock}]", "买入{stock", "买入{}"]:
        with pytest.raises(ValueError):
            render(broken, {"stock": "x"})


DIALOGUE = (
    "replies:\n  greet: 您好。\n  nlu_fallback: 抱歉，我没有听清。\n  unknown_intent: 抱歉，无法办理。\n"
    "prompts:\n" + "".join(f"  {name}: 第{n}句。\n" for n, name in enumerate(PROMPTS)) +
    "outcomes:\n  ok: 办好了。\n  rejected: 没办成。\n  failed: {say: 坏了。, handoff: backend_failed}\n"
    "  unknown: 不确定。\n"
)

VALID = """\
functions:
  stock_buy:
    intents: [stock_buy]
    title: 买入股票
    slots:
      stock: {type: stock, required: true, prompt: 买哪只？}
      quantity: {type: quantity, required: true, prompt: 买多少？}
    opening: 好的，[买入{stock}]。
    confirm: 买入{stock}{quantity}股？
    action: securities.place_order
    params: {side: buy, stock: "{stock}", quantity: "{quantity}"}
    outcomes:
      ok: 委托编号{id}。
"""


def write_catalog(directory: Path, securities: str, dialogue: str = DIALOGUE) -> Path:
    (directory / "dialogue.yml").write_text(dialogue, encoding="utf-8")
    path = directory / "securities.yml"
    path.write_text(securities, encoding="utf-8")
    return path


def load_error(directory: Path) -> str:
    with pytest.raises(DataFileError) as caught:
        Catalog.load(directory)
    return str(caught.value)


def test_a_minimal_catalog_loads(tmp_path):
    write_catalog(tmp_path, VALID)
    catalog = Catalog.load(tmp_path)
    assert catalog.function_for("stock_buy").confirm == "买入{stock}{quantity}股？"
    assert catalog.replies["greet"] == "您好。"
    assert catalog.prompts["handoff"] == f"第{list(PROMPTS).index('handoff')}句。"


PIN_SLOTS = ("      quantity: {type: quantity, required: true, prompt: 买多少？}\n",
             "      quantity: {type: quantity, required: true, prompt: 买多少？}\n"
             "      pin: {type: pin, required: true, prompt: 请输入密码。}\n"
             "      again: {type: pin, required: true, same_as: pin, prompt: 再输一次。}\n")


@pytest.mark.parametrize("change, line, problem", [
    (("    title: 买入股票\n", "    title: 买入股票\n    titel: 买入\n"), 5, "unknown key 'titel'"),
    (("type: quantity,", "type: qty,"), 7, "unknown type 'qty'"),
    (("required: true, prompt: 买多少？", "required: true, prmpt: 买多少？"), 7, "unknown key 'prmpt'"),
    (("confirm: 买入{stock}", "confirm: 以{price}元买入{stock}"), 9, "slot 'price'"),
    (("opening: 好的，[买入{stock}]。", "opening: 好的，买入{stock}。"), 8, "inside [...]"),
    (("opening: 好的，[买入{stock}]。", "opening: 好的，[买入{stock}。"), 8, "'[' without ']'"),
    (("    title: 买入股票\n", ""), 2, "missing 'title'"),
    (("    opening: 好的，[买入{stock}]。\n", ""), 2, "missing 'opening'"),
    (("intents: [stock_buy]", "intents: stock_buy"), 3, "'intents' must be a list"),
    (("  stock_buy:\n", "  stock_buy:\n    verify: yes please\n"), 3, "'verify' must be true or false"),
    (("functions:", "function:"), 1, "unknown key 'function'"),
    (("买哪只？}", "买哪只？"), 7, "expected ',' or '}'"),  # YAML syntax error
    # actions and their params
    (("action: securities.place_order", "action: securities.buy"), 10, "unknown action 'securities.buy'"),
    (("side: buy, ", ""), 11, "securities.place_order needs 'side'"),
    (('quantity: "{quantity}"', 'quantity: "{amount}"'), 11, "'{amount}' names no slot"),
    (('quantity: "{quantity}"', 'quantity: "{quantity}", fee: 5'), 11, "'fee' is not a param"),
    (('    params: {side: buy, stock: "{stock}", quantity: "{quantity}"}\n', ""), 10,
     "securities.place_order needs 'side' from a fixed value or a required slot"),
    (("    action: securities.place_order\n", ""), 2, "give either 'action' or 'handoff'"),
    (("    action: securities.place_order\n", "    action: securities.place_order\n    handoff: x\n"), 2,
     "give either 'action' or 'handoff'"),
    # outcomes
    (("      ok: 委托编号{id}。\n", "      rejected: 没办成。\n"), 12, "outcomes: missing 'ok'"),
    (("      ok: 委托编号{id}。\n", "      ok: 好。\n      price_limit: {say: 不行。, ask: cost}\n"), 14,
     "ask: 'cost' is not a slot"),
    (("      ok: 委托编号{id}。\n", "      ok: 好。\n      lot_size: {say: 不行。, retry: true}\n"), 14,
     "unknown key 'retry'"),
    # slot checks
    (("prompt: 买哪只？}", "prompt: 买哪只？, min: 1}"), 6, "'min' is for slots of type"),
    (("type: quantity, required: true,", "type: quantity, step: -100, required: true,"), 7,
     "'step' must be a number above 0"),
    (("type: quantity, required: true,", "type: choice, required: true,"), 7, "missing 'values'"),
    (("type: stock, required: true,", "type: stock, keys: [a, b], required: true,"), 6, "'keys' is for slots"),
    (PIN_SLOTS, 5, "slot 'pin' feeds no param of securities.place_order"),
    # hours
    (("    title: 买入股票\n", "    title: 买入股票\n    hours: {days: [mon], times: [\"9:30-11:30\"], closed: 休市。}\n"),
     5, "must be a span"),
    (("    title: 买入股票\n", "    title: 买入股票\n    hours: {days: [monday], times: [\"09:30-11:30\"], closed: 休市。}\n"),
     5, "days: a list of mon"),
])
def test_schema_errors_name_file_and_line(tmp_path, change, line, problem):
    old, new = change
    assert old in VALID
    path = write_catalog(tmp_path, VALID.replace(old, new))
    message = load_error(tmp_path)
    assert message.startswith(f"{path}:{line}: "), message
    assert problem in message


def test_a_template_naming_a_pin_is_refused(tmp_path):
    with_pins = VALID.replace(*PIN_SLOTS)
    path = write_catalog(tmp_path, with_pins.replace("confirm: 买入{stock}{quantity}股？", "confirm: 密码{pin}？"))
    assert load_error(tmp_path).startswith(f"{path}:11: function 'stock_buy': confirm names 'pin', which is never said")


def test_slots_without_params_map_to_params_of_their_name(tmp_path):
    without_params = VALID.replace(*PIN_SLOTS).replace('    params: {side: buy, stock: "{stock}", quantity: "{quantity}"}\n', "")
    path = write_catalog(tmp_path, without_params)
    assert load_error(tmp_path).startswith(f"{path}:5: function 'stock_buy': 'pin' is not a param of securities.place_order")


def test_same_as_must_name_an_earlier_pin_slot(tmp_path):
    path = write_catalog(tmp_path, VALID.replace(*PIN_SLOTS).replace("same_as: pin", "same_as: stock"))
    assert load_error(tmp_path).startswith(f"{path}:9: function 'stock_buy' slot 'again': same_as: 'stock'")


def test_menu_paths_may_not_overlap_or_crowd_a_level(tmp_path):
    path = write_catalog(tmp_path, VALID.replace("    title: 买入股票\n", "    title: 买入股票\n    menu: [证券]\n"))
    other = tmp_path / "trading.yml"
    other.write_text(VALID.replace("stock_buy", "stock_sell").replace("[证券]", "")
                     .replace("    title: 买入股票\n", "    title: 卖出\n    menu: [证券, 卖出]\n"), encoding="utf-8")
    assert load_error(tmp_path).startswith(f"{other}:5: menu: 证券/卖出 and another function's path overlap")
    crowded = "functions:\n" + "".join(
        VALID.split("\n", 1)[1].replace("stock_buy", f"f{n}").replace("    title: 买入股票\n", f"    title: 买入股票\n    menu: [第{n}项]\n")
        for n in range(10))
    other.unlink()
    path = write_catalog(tmp_path, crowded)
    assert "would have more than 9 options" in load_error(tmp_path)


def test_an_intent_claimed_by_two_functions_is_refused(tmp_path):
    write_catalog(tmp_path, VALID)
    other = tmp_path / "trading.yml"
    other.write_text(VALID.replace("  stock_buy:\n", "  quick_buy:\n"), encoding="utf-8")
    message = load_error(tmp_path)
    assert message.startswith(f"{other}:3: intent 'stock_buy' is already claimed by function "
                              f"'stock_buy' ({tmp_path / 'securities.yml'}:3)"), message


def test_a_reply_for_a_function_intent_is_refused(tmp_path):
    dialogue_path = tmp_path / "dialogue.yml"
    write_catalog(tmp_path, VALID, DIALOGUE.replace("replies:\n", "replies:\n  stock_buy: 好的。\n"))
    assert load_error(tmp_path).startswith(f"{dialogue_path}:2: intent 'stock_buy' is already claimed")


def test_the_fallback_replies_must_exist(tmp_path):
    write_catalog(tmp_path, VALID, DIALOGUE.replace("  unknown_intent: 抱歉，无法办理。\n", ""))
    assert load_error(tmp_path).startswith(
        f"{tmp_path / 'dialogue.yml'}:1: replies: missing 'unknown_intent'")


@pytest.mark.parametrize("change, problem", [
    (("  handoff: ", "  handof: "), "prompts: unknown key 'handof'"),
    (("  pin_wrong: ", "  pin_wrong: 还有{attempts}次。#"), "pin_wrong names slot 'attempts', which is not one of: attempts_left"),
    (("  unknown: 不确定。\n", ""), "outcomes: missing 'unknown'"),
    (("  ok: 办好了。", "  ok: 办好了{id}。"), "names slot 'id', which is not one of: none"),
])
def test_the_dialogue_file_is_checked_too(tmp_path, change, problem):
    old, new = change
    assert old in DIALOGUE
    write_catalog(tmp_path, VALID, DIALOGUE.replace(old, new))
    message = load_error(tmp_path)
    assert message.startswith(f"{tmp_path / 'dialogue.yml'}:") and problem in message, message


def test_a_duplicate_key_is_refused(tmp_path):
    path = write_catalog(tmp_path, VALID + VALID.replace("functions:\n", ""))
    assert load_error(tmp_path).startswith(f"{path}:{len(VALID.splitlines()) + 1}: duplicate key 'stock_buy'")


def test_all_slot_types_are_known():
    assert SLOT_TYPES == {"amount", "quantity", "price", "stock", "currency", "bill_type", "payee",
                          "phone_number", "when", "text", "choice", "pin", "fund", "policy", "product", "date"}


@pytest.mark.parametrize("actions, problem", [
    ("actions:\n  verify_pin: banking.verify\n", ":2: actions: verify_pin: unknown action 'banking.verify'"),
    ("actions:\n  identify: notify.sms\n", ":2: actions: identify: notify.sms must take phone (it takes: phone, text)"),
    ("actions:\n  callback: crm.callback\n", ":2: actions: actions: missing 'sms'"),
])
def test_the_dialogs_own_actions_are_checked(tmp_path, actions, problem):
    write_catalog(tmp_path, VALID, actions + DIALOGUE)
    message = load_error(tmp_path)
    assert message.startswith(f"{tmp_path / 'dialogue.yml'}{problem}"), message


def test_a_function_that_verifies_needs_the_pin_action(tmp_path):
    write_catalog(tmp_path, VALID.replace("    title: 买入股票\n", "    title: 买入股票\n    verify: true\n"))
    assert "actions: missing 'verify_pin' (function 'stock_buy' says verify)" in load_error(tmp_path)
