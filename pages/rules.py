import streamlit as st

st.title("Rules")
st.info("This page is being built.")
