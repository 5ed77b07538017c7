"""One annotated record and schema per task (the seed's formats), shared by the golden, output-schema and
round-trip tests."""

from __future__ import annotations

NER_TEXT = "相比之下，青岛海牛队和广州松日队的雨中之战虽然也是0∶0，但乏善可陈。"
NER_RECORD = {"text": NER_TEXT, "entity": [{"entity": "广州松日队", "entity_type": "组织机构"},
                                           {"entity": "青岛海牛队", "entity_type": "组织机构"},
                                           {"entity": "广州松日队", "entity_type": "组织机构"}]}
NER_SCHEMA = [["人物", "组织机构", "地理位置"], [], {}]
RE_TEXT = "Thomas Edison was born in Milan, Ohio."
RE_RECORD = {"text": RE_TEXT,
             "relation": [{"head": "Thomas Edison", "relation": "place of birth", "tail": "Milan"}]}
RE_SCHEMA = [[], ["place of birth", "founded by", "works for"], {}]
SPO_TEXT = "《红高粱》由张艺谋执导，张艺谋出生于西安。"
SPO_RECORD = {"text": SPO_TEXT, "relation": [
    {"head": "红高粱", "head_type": "影视作品", "relation": "导演", "tail": "张艺谋", "tail_type": "人物"},
    {"head": "张艺谋", "head_type": "人物", "relation": "出生地", "tail": "西安", "tail_type": "地点"}]}
SPO_SCHEMA = [["人物_出生地_地点", "影视作品_导演_人物", "人物_毕业院校_学校"], ["出生地", "导演", "毕业院校"], {}]
EE_TEXT = "The rebels attacked the base and the airport with rockets."
EE_RECORD = {"text": EE_TEXT, "event": [{"event_type": "attack", "event_trigger": "attacked", "arguments": [
    {"argument": "rebels", "role": "attacker"}, {"argument": "airport", "role": "target"},
    {"argument": "base", "role": "target"}]}]}
EE_SCHEMA = [["attack", "meeting"], ["attacker", "target", "instrument", "entity", "place"],
             {"attack": ["attacker", "target", "instrument"], "meeting": ["entity", "place"]}]
EEA_TEXT = "某公司宣布裁员100人。"
EEA_RECORD = {"text": EEA_TEXT, "event": [{"event_type": "裁员", "event_trigger": "裁员",
                                           "arguments": [{"argument": "某公司", "role": "裁员方"}]}]}
EEA_SCHEMA = [["裁员"], ["裁员方", "裁员人数"], {"裁员": ["裁员方", "裁员人数"]}]
KG_TEXT = "明治天皇，名睦仁，父亲孝明天皇，母亲英照皇太后，养母权大纳言。孝明天皇的配偶有英照皇太后和权大纳言。"
KG_RECORD = {"id": 7, "text": KG_TEXT, "relation": [
    {"head": "明治天皇", "relation": "别名", "tail": "睦仁"},
    {"head": "明治天皇", "relation": "父母", "tail": "权大纳言"},
    {"head": "明治天皇", "relation": "父母", "tail": "孝明天皇"},
    {"head": "明治天皇", "relation": "父母", "tail": "英照皇太后"},
    {"head": "孝明天皇", "relation": "配偶", "tail": "权大纳言"},
    {"head": "孝明天皇", "relation": "配偶", "tail": "英照皇太后"}]}
KG_SCHEMA = [["人物"], ["别名", "父母", "配偶"], {"人物": ["别名", "父母", "配偶"]}]
