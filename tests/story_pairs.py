"""A labelled set of story pairs, built here with synthetic text and pictures: reposts (a
story with markers, emoji and laughter added, lines reflowed, words edited, names masked,
cut short, or only its picture re-encoded) and hard negatives (another story on the same
topic, told in the same words' style; another topic; another picture)."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field

from PIL import Image, ImageDraw

# Each topic: sentence frames with slots; a story takes some frames in its own order with
# its own slot values, so two stories on one topic share words but are different stories.
TOPICS: dict[str, tuple[list[str], dict[str, list[str]]]] = {
    "회사": (
        [
            "{when} 팀장님이 {thing} 문제로 회의를 소집했습니다",
            "{who}는 {thing} 보고서를 세 번이나 다시 썼다고 해요",
            "점심시간에 {place}에 갔는데 {who}가 먼저 와 있더라고요",
            "{who}가 갑자기 {thing} 얘기를 꺼내서 분위기가 얼어붙었어요",
            "퇴근 직전에 {thing} 자료를 달라는 메일이 왔습니다",
            "{place} 앞에서 {who}랑 마주쳐서 인사만 하고 지나갔어요",
            "다음 날 {when} 출근해 보니 책상 위에 {thing}이 놓여 있었어요",
            "결국 {who}가 {thing} 건은 자기가 맡겠다고 했습니다",
            "{when}부터 회의실 예약이 전부 {who} 이름으로 되어 있었어요",
            "동기들 단톡방에서 {thing} 얘기로 난리가 났습니다",
            "{who}가 {place}에서 커피를 사 와서 다들 놀랐어요",
            "그날 이후로 {thing} 얘기는 아무도 안 꺼냅니다",
        ],
        {
            "when": ["월요일 아침", "금요일 오후", "어제 저녁", "지난주 수요일", "오늘 새벽"],
            "who": ["김대리", "박과장", "신입사원", "옆 팀 차장님", "인턴 친구"],
            "thing": ["분기 실적", "워크숍 일정", "탕비실 커피", "야근 수당", "새 프린터"],
            "place": ["회사 앞 카페", "구내식당", "엘리베이터", "옥상 정원", "편의점"],
        },
    ),
    "고양이": (
        [
            "{when} 집 앞에 {cat}가 앉아 있었어요",
            "{cat}가 {thing}을 물고 현관까지 따라왔습니다",
            "배가 고파 보여서 {food}를 조금 나눠 줬어요",
            "{who}가 보더니 {cat} 이름을 {name}라고 지어 주자고 하더라고요",
            "다음 날 {when}에도 {cat}가 같은 자리에서 기다리고 있었어요",
            "{cat}가 {thing} 위에서 낮잠을 자는 걸 보고 웃음이 났어요",
            "동물병원에 데려갔더니 {cat}는 건강하다고 합니다",
            "{who}는 원래 고양이를 싫어했는데 지금은 {name} 바보가 됐어요",
            "{food} 봉지를 흔들면 {cat}가 어디서든 달려옵니다",
            "밤마다 {cat}가 {thing} 근처에서 울어서 잠을 설쳤어요",
            "결국 {name}는 우리 집 막내가 되었습니다",
            "{cat} 덕분에 {who}랑 대화가 많아졌어요",
        ],
        {
            "when": ["퇴근길", "비 오는 날 밤", "주말 아침", "새벽 두 시", "점심 무렵"],
            "cat": ["치즈 고양이", "삼색이", "턱시도 고양이", "아기 고양이", "회색 길냥이"],
            "thing": ["택배 상자", "슬리퍼", "빨래 바구니", "자동차 보닛", "현관 매트"],
            "food": ["참치", "닭가슴살", "츄르", "사료", "멸치"],
            "who": ["엄마", "남동생", "룸메이트", "아빠", "할머니"],
            "name": ["나비", "두부", "보리", "콩이", "호두"],
        },
    ),
    "연애": (
        [
            "{who}랑 사귄 지 {period} 됐습니다",
            "{when} {who}가 {place}에서 보자고 연락이 왔어요",
            "만나자마자 {who}가 {thing} 얘기를 꺼냈습니다",
            "저는 {thing} 문제로 서운했던 게 쌓여 있었어요",
            "{place}에서 한참 동안 아무 말도 안 하고 앉아 있었어요",
            "{who}가 갑자기 {gift}를 내밀어서 당황했습니다",
            "친구들은 {thing} 정도는 넘어가라고 하더라고요",
            "{period} 동안 {who}는 한 번도 약속에 늦은 적이 없었어요",
            "집에 오는 길에 {who}한테서 긴 문자가 왔습니다",
            "{gift}는 아직 책상 서랍에 넣어 두었어요",
            "다음 주 {when}에 다시 만나기로 했습니다",
            "여러분이라면 {thing} 문제를 어떻게 하실 건가요",
        ],
        {
            "who": ["남자친구", "여자친구", "썸남", "전 애인", "소개팅 상대"],
            "period": ["삼 년", "백일", "반년", "일 년 반", "두 달"],
            "when": ["토요일 저녁", "기념일 당일", "어제 밤", "퇴근 후", "일요일 낮"],
            "place": ["한강 공원", "단골 식당", "영화관 앞", "동네 놀이터", "버스 정류장"],
            "thing": ["연락 문제", "친구 모임", "결혼 얘기", "돈 문제", "휴가 계획"],
            "gift": ["손편지", "반지", "꽃다발", "커플 티셔츠", "향수"],
        },
    ),
    "음식": (
        [
            "{when} 동네에 새로 생긴 {shop}에 다녀왔어요",
            "{menu}가 유명하다고 해서 {count} 시켰습니다",
            "사장님이 {thing}을 서비스로 주셨어요",
            "{menu} 맛은 솔직히 {taste}였습니다",
            "옆 테이블 손님이 {menu}를 세 그릇이나 드시더라고요",
            "가격은 {price}이었는데 양이 정말 많았어요",
            "{who}는 {thing}이 제일 맛있었다고 하네요",
            "계산하고 나오는데 줄이 {place}까지 서 있었어요",
            "다음에는 {menu} 말고 다른 메뉴도 먹어 보려고요",
            "{when}에는 사람이 적어서 기다리지 않아도 됩니다",
            "{shop} 사장님이 원래 {place}에서 장사하셨대요",
            "재방문 의사는 {taste}에 따라 달라질 것 같아요",
        ],
        {
            "when": ["평일 점심", "주말 저녁", "비 오는 날", "오픈 첫날", "늦은 밤"],
            "shop": ["국밥집", "돈가스 가게", "빵집", "분식집", "중국집"],
            "menu": ["순대국", "치즈돈가스", "소금빵", "떡볶이", "짬뽕"],
            "count": ["두 개", "세 개", "한 그릇", "곱빼기로", "세트로"],
            "thing": ["계란찜", "만두", "음료수", "튀김", "샐러드"],
            "taste": ["기대 이상", "그냥 그런 맛", "조금 짠 편", "인생 맛집 수준", "무난한 맛"],
            "price": ["팔천 원", "만 이천 원", "육천 오백 원", "만 원", "칠천 원"],
            "who": ["친구", "언니", "직장 동료", "아내", "조카"],
            "place": ["골목 끝", "횡단보도", "주차장", "옆 건물", "지하철역 입구"],
        },
    ),
    "시댁": (
        [
            "{when} 시댁에 {dish}를 해 가기로 했어요",
            "시어머니가 {dish} 간이 {taste}고 하셨습니다",
            "남편은 옆에서 {thing}만 보고 있었어요",
            "{who}가 {dish} 레시피를 알려 주겠다고 나섰어요",
            "돌아오는 차 안에서 남편과 {thing} 얘기로 다퉜습니다",
            "{when}마다 {dish}를 해 가는 게 부담이 돼요",
            "시누이는 {thing} 핑계로 오지 않았어요",
            "{who}가 몰래 {gift}를 챙겨 주셔서 마음이 풀렸어요",
            "친정 엄마는 {dish} 대신 다른 걸 해 가라고 하시네요",
            "다음 {when}에는 {dish}를 사 가려고 합니다",
            "남편이 {thing} 일은 자기가 말해 보겠다고 했어요",
            "이런 일로 서운한 제가 예민한 걸까요",
        ],
        {
            "when": ["명절", "생신", "제사", "주말", "김장철"],
            "dish": ["갈비찜", "잡채", "동그랑땡", "나물", "김치"],
            "taste": ["싱겁다", "짜다", "달다", "맵다", "밍밍하다"],
            "thing": ["휴대폰", "축구 경기", "회사 일", "주식 차트", "게임"],
            "who": ["시아버지", "큰형님", "작은어머니", "시할머니", "아주버님"],
            "gift": ["용돈", "반찬통", "과일 상자", "홍삼", "참기름"],
        },
    ),
    "택시": (
        [
            "{when} {place}에서 택시를 탔습니다",
            "기사님이 {thing} 얘기를 쉬지 않고 하셨어요",
            "라디오에서 {song}이 나오자 기사님이 따라 부르셨어요",
            "내릴 때 보니 {item}를 두고 내릴 뻔했어요",
            "요금은 {price}이 나왔는데 기사님이 {discount} 깎아 주셨어요",
            "{place} 근처가 막혀서 골목길로 돌아갔습니다",
            "기사님이 예전에 {job}을 하셨다고 하더라고요",
            "{when}이라 그런지 손님이 저밖에 없었대요",
            "차 안에 {item}가 가득 쌓여 있었어요",
            "내리면서 {thing} 잘되길 바란다고 인사해 주셨어요",
            "집에 와서 생각해 보니 {song} 가사가 계속 맴돌았어요",
            "다음에 또 그 기사님을 만나면 좋겠습니다",
        ],
        {
            "when": ["새벽 세 시", "출근길", "눈 오는 밤", "퇴근 시간", "일요일 아침"],
            "place": ["강남역", "서울역", "공항 버스 정류장", "시청 앞", "대학병원"],
            "thing": ["손주 자랑", "프로야구", "집값", "건강 관리", "낚시"],
            "song": ["트로트 메들리", "옛날 발라드", "동요", "아이돌 노래", "팝송"],
            "item": ["우산", "지갑", "귤 상자", "꽃다발", "노트북"],
            "price": ["만 오천 원", "팔천 원", "이만 원", "만 천 원", "구천 원"],
            "discount": ["천 원", "오백 원", "이천 원", "잔돈", "삼천 원"],
            "job": ["선생님", "요리사", "버스 기사", "은행원", "축구 코치"],
        },
    ),
}
REPOST_TITLES = ["[네이트판] {t}", "(펌) {t}", "{t} (네이트판)", "[판] {t}", "{t}.jpg"]
COMMENTS = ["이거 실화냐", "와 읽다가 소름", "후기 좀 올려 주세요", "나만 화나냐 이거"]


@dataclass
class Story:
    topic: str
    title: str
    sentences: list[str]
    slots: dict[str, str] = field(default_factory=dict)

    @property
    def body(self) -> str:
        return "\n".join(s + "." for s in self.sentences)


def make_story(rng: random.Random, topic: str, n: int = 10) -> Story:
    frames, values = TOPICS[topic]
    slots = {k: rng.choice(v) for k, v in values.items()}
    chosen = rng.sample(frames, n)
    sentences = [f.format(**slots) for f in chosen]
    title = sentences[0][:18] + " 후기"
    return Story(topic, title, sentences, slots)


def repost(rng: random.Random, story: Story, kind: str) -> tuple[str, str]:
    """A repost of ``story`` of one kind: (title, body)."""
    title = rng.choice(REPOST_TITLES).format(t=story.title)
    sentences = list(story.sentences)
    if kind == "decorated":  # emoji, laughter, reflowed lines, a source line
        sentences = [s + rng.choice(["", " ㅋㅋㅋ", " 😂", " ㅠㅠ", "!!"]) for s in sentences]
        return title, " ".join(sentences) + "\n출처 : 네이트판"
    if kind == "edited":  # two sentences reworded a little, names masked
        for i in rng.sample(range(len(sentences)), 2):
            sentences[i] = sentences[i].replace("했", "했었").replace("어요", "더라구요")
        body = "\n".join(sentences)
        for value in list(story.slots.values())[:2]:
            body = body.replace(value, "ㅇㅇ", 1)
        return title, body
    if kind == "cut":  # the first two thirds, then the reposter's comment
        keep = sentences[: max(3, len(sentences) * 2 // 3)]
        return title, "\n".join(keep) + "\n(중략)\n" + rng.choice(COMMENTS)
    raise ValueError(kind)


def picture(rng: random.Random) -> Image.Image:
    """A synthetic photo: a mosaic of coloured blocks (each picture's own light and dark
    places, as photos have) with a few shapes over it."""
    img = Image.new("RGB", (480, 360))
    draw = ImageDraw.Draw(img)
    for bx in range(8):
        for by in range(6):
            colour = tuple(rng.randrange(256) for _ in range(3))
            draw.rectangle([bx * 60, by * 60, bx * 60 + 59, by * 60 + 59], fill=colour)
    for _ in range(5):
        x, y = rng.randrange(440), rng.randrange(320)
        w, h = rng.randrange(30, 160), rng.randrange(30, 160)
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x, y, x + w, y + h], fill=colour)
    return img


def variant(img: Image.Image, kind: str) -> bytes:
    """The picture as a repost carries it: re-encoded, resized, or re-encoded and resized."""
    out = io.BytesIO()
    if kind == "resized":
        img = img.resize((img.width // 2, img.height // 2))
    elif kind == "larger":
        img = img.resize((img.width * 3 // 2, img.height * 3 // 2))
    img.save(out, "JPEG", quality=55 if kind == "reencoded" else 85)
    return out.getvalue()


def as_bytes(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()
