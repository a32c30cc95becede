from pathlib import Path

import pytest

from assistant.catalog import FALLBACK, SLOT_TYPES, UNKNOWN_INTENT, Catalog, render
from assistant.errors import DataFileError

INTENTS_DIR = Path(__file__).resolve().parents[1] / "intents"

FUNCTION_INTENTS = [
    "balance_inquiry", "transaction_history", "transfer", "card_loss", "change_password", "pay_bill",
    "forex_trade", "credit_card_repay", "credit_card_bill", "stock_buy", "stock_sell",
    "order_cancel", "order_query", "stock_quote", "positions", "bank_securities_transfer",
    "price_alert", "complaint", "suggestion", "business_info", "human_agent", "callback_request",
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


def test_every_template_renders_with_no_slots_and_confirm_with_only_the_required(catalog):
    for function in catalog.functions.values():
        assert render(function.opening, {})
        if function.confirm:
            required = {s.name: "X" for s in function.slots if s.required}
            assert "{" not in render(function.confirm, required)


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


DIALOGUE = """\
replies:
  greet: 您好。
  nlu_fallback: 抱歉，我没有听清。
  unknown_intent: 抱歉，无法办理。
"""

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
])
def test_schema_errors_name_file_and_line(tmp_path, change, line, problem):
    old, new = change
    assert old in VALID
    path = write_catalog(tmp_path, VALID.replace(old, new))
    message = load_error(tmp_path)
    assert message.startswith(f"{path}:{line}: "), message
    assert problem in message


def test_an_intent_claimed_by_two_functions_is_refused(tmp_path):
    write_catalog(tmp_path, VALID)
    other = tmp_path / "trading.yml"
    other.write_text(VALID.replace("  stock_buy:\n", "  quick_buy:\n"), encoding="utf-8")
    message = load_error(tmp_path)
    assert message.startswith(f"{other}:3: intent 'stock_buy' is already claimed by function "
                              f"'stock_buy' ({tmp_path / 'securities.yml'}:3)"), message


def test_a_reply_for_a_function_intent_is_refused(tmp_path):
    dialogue_path = tmp_path / "dialogue.yml"
    write_catalog(tmp_path, VALID, DIALOGUE + "  stock_buy: 好的。\n")
    assert load_error(tmp_path).startswith(f"{dialogue_path}:5: intent 'stock_buy' is already claimed")


def test_the_fallback_replies_must_exist(tmp_path):
    write_catalog(tmp_path, VALID, DIALOGUE.replace("  unknown_intent: 抱歉，无法办理。\n", ""))
    assert load_error(tmp_path).startswith(
        f"{tmp_path / 'dialogue.yml'}:1: replies: missing 'unknown_intent'")


def test_a_duplicate_key_is_refused(tmp_path):
    path = write_catalog(tmp_path, VALID + VALID.replace("functions:\n", ""))
    assert load_error(tmp_path).startswith(f"{path}:10: duplicate key 'stock_buy'")


def test_all_slot_types_are_known():
    assert SLOT_TYPES == {"amount", "quantity", "price", "stock", "currency", "bill_type", "payee",
                          "phone_number", "when", "text"}
