import streamlit as st

st.title("Queue")
st.info("This page is being built.")
