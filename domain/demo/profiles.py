"""Chinese-flavoured member profiles: names, contact details, age, region, work, interests.

Contact details are visibly fake: e-mails are under example.cn and phone
numbers use the unallocated +86 100 prefix, so demo data never names a real
person's address or number.
"""

from __future__ import annotations

import numpy as np

from domain.demo.community import Profiles
from domain.members import AGE_BANDS

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
            "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚英华玉萍红梅鑫波斌宇浩凯健俊帆旭宁琳"
         "晨欣怡佳雪婷涵梓轩诗雨思睿博文嘉悦可然彤昊天翔瑶琪萱")
LATIN = ("Lily", "Kevin", "Amy", "Jack", "Coco", "Momo", "Eric", "Vivian", "Leo", "Cindy",
         "Tony", "Grace", "Sunny", "Alan", "Yoyo", "Nina")
NICKNAMES = ("小{g}", "阿{g}", "{g}{g}", "{g}{g}酱")
HANDLES = ("xiaoyu", "tiantian", "lele", "dudu", "momo", "lily", "kevin", "amy", "happy",
           "sunny", "coco", "ajie", "xiaomi", "panda", "dawei", "yiyi")
AGE_WEIGHTS = (0.04, 0.28, 0.38, 0.18, 0.08, 0.04)  # matches AGE_BANDS
REGIONS = ("广东", "浙江", "上海", "北京", "江苏", "四川", "山东", "湖北", "福建", "河南",
           "湖南", "重庆", "陕西", "天津")
REGION_WEIGHTS = (16, 11, 10, 9, 9, 7, 7, 6, 5, 5, 5, 4, 3, 3)
OCCUPATIONS = ("白领", "学生", "自由职业", "工程师", "设计师", "教师", "创业者", "销售",
               "医护", "宝妈", "公务员", "其他")
OCCUPATION_WEIGHTS = (22, 16, 9, 10, 6, 6, 5, 7, 4, 7, 3, 5)
TOPICS = ("美妆", "穿搭", "健身", "美食", "旅行", "数码", "理财", "育儿", "读书", "摄影",
          "宠物", "家居")
TOPIC_WEIGHTS = (14, 12, 10, 14, 9, 10, 8, 6, 6, 5, 4, 2)


def draw(rng: np.random.Generator, *, n: int) -> Profiles:
    """Profiles for `n` members, in member order."""
    return Profiles(
        display_name=_names(rng, n),
        email=_emails(rng, n),
        phone=_phones(rng, n),
        age_band=_pick(rng, AGE_BANDS, AGE_WEIGHTS, n),
        region=_pick(rng, REGIONS, REGION_WEIGHTS, n),
        occupation=_pick(rng, OCCUPATIONS, OCCUPATION_WEIGHTS, n),
        interests=_interests(rng, n),
    )


def zipf_weights(count: int) -> np.ndarray:
    """Surname and given-name frequencies fall off roughly like 1/rank."""
    w = 1.0 / np.arange(1, count + 1)
    return w / w.sum()


def _pick(rng, values, weights, n: int) -> list:
    p = np.asarray(weights, dtype=float)
    codes = rng.choice(len(values), size=n, p=p / p.sum())
    return [values[c] for c in codes]


def _names(rng, n: int) -> list[str]:
    surname = rng.choice(len(SURNAMES), size=n, p=zipf_weights(len(SURNAMES)))
    given = rng.integers(0, len(GIVEN), size=(n, 2))
    two_chars = rng.random(n) < 0.6
    style = rng.choice(3, size=n, p=(0.65, 0.22, 0.13))  # full name, nickname, latin + surname
    latin = rng.integers(0, len(LATIN), size=n)
    nick = rng.integers(0, len(NICKNAMES), size=n)
    names = []
    for i in range(n):
        s, g1, g2 = SURNAMES[surname[i]], GIVEN[given[i, 0]], GIVEN[given[i, 1]]
        if style[i] == 0:
            names.append(s + g1 + (g2 if two_chars[i] else ""))
        elif style[i] == 1:
            names.append(NICKNAMES[nick[i]].format(g=g1))
        else:
            names.append(LATIN[latin[i]] + s)
    return names


def _emails(rng, n: int) -> list[str | None]:
    has = rng.random(n) < 0.35
    handle = rng.integers(0, len(HANDLES), size=n)
    return [f"{HANDLES[handle[i]]}{i}@example.cn" if has[i] else None for i in range(n)]


def _phones(rng, n: int) -> list[str | None]:
    has = rng.random(n) < 0.55
    digits = rng.integers(0, 10**8, size=n)
    return [f"+86 100 {d // 10**4:04d} {d % 10**4:04d}" if h else None
            for h, d in zip(has.tolist(), digits.tolist(), strict=True)]


def _interests(rng, n: int) -> list[tuple[str, ...]]:
    # Gumbel top-k: weighted sampling without replacement, one row per member.
    keys = np.log(np.asarray(TOPIC_WEIGHTS, dtype=float)) + rng.gumbel(size=(n, len(TOPICS)))
    order = np.argsort(-keys, axis=1)
    count = rng.integers(1, 5, size=n)
    return [tuple(TOPICS[t] for t in order[i, :count[i]]) for i in range(n)]
